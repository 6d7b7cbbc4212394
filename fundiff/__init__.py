"""fundiff: Fun With Diffusion Models, the reference implementation of the course.

Part A's sampling loops live in :mod:`fundiff.diffusion`, Part B's models and objectives in
:mod:`fundiff.models`, :mod:`fundiff.objectives` and :mod:`fundiff.sampling`, each training
kind in :mod:`fundiff.kinds`, the loop in :mod:`fundiff.training`;
``fundiff`` on the command line is :mod:`fundiff.cli`.
"""
