"""fundiff: Fun With Diffusion Models, the reference implementation of the course.

Part A's sampling loops live in :mod:`fundiff.diffusion`, Part B's models and objectives in
:mod:`fundiff.models`, :mod:`fundiff.denoiser`, :mod:`fundiff.flow` and :mod:`fundiff.sampling`;
``fundiff`` on the command line is :mod:`fundiff.cli`.
"""
