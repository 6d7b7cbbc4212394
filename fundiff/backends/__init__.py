"""What a Part A loop talks to: a noise-predicting diffusion model and its schedule.

Two backends implement ``Backend``: DeepFloyd IF through diffusers
(``fundiff.backends.deepfloyd``) and the small MNIST diffusion model that
fundiff ships (``fundiff.backends.mnist``). Import them from their modules, so
that the MNIST path never imports diffusers or transformers.
"""

from fundiff.backends.base import Backend, Prediction

__all__ = ["Backend", "Prediction"]
