"""What a Part A loop talks to: a noise-predicting diffusion model and its schedule.

Two backends implement ``Backend``: DeepFloyd IF through diffusers
(``fundiff.backends.deepfloyd``) and the small MNIST diffusion model that
fundiff ships (``fundiff.backends.mnist``). IF's weights are fetched by
``fundiff.backends.hub`` and its T5 prompt embeddings made and read by
``fundiff.backends.prompts``. Import them from their modules, so that the MNIST
path never imports diffusers or transformers.
"""

from fundiff.backends.base import Backend, Prediction

__all__ = ["Backend", "Prediction"]
