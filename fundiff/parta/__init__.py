"""Part A: the write-up's sections run on a backend, each writing its figures.

- ``sections``: the sections' names (imports nothing, so the command line lists them cheaply);
- ``options``: what the user chose, each backend's defaults, and ``TaskError``;
- ``inputs``: the source image and the inpainting mask;
- ``layouts``: the figures' names, shown timesteps, labels and titles;
- ``tasks``: ``run_task`` and one function per section;
- ``backend``: ``build_backend``, the MNIST or DeepFloyd IF backend by name.

Import from the modules (``from fundiff.parta.tasks import run_task``): this
package imports none of them, so that ``fundiff.parta.sections`` stays free of torch.
"""
