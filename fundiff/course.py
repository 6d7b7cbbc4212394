"""Everything the course's notebooks import from fundiff, in one public module.

A notebook cell writes ``from fundiff.course import ...``; nothing in a notebook reaches
into fundiff's other modules or uses a private name. The graded functions are not here:
students write them in the notebooks, and the reference keeps them in their own modules.

Part A (``course/part_a``):
    Backends and their predictions (``Backend``, ``Prediction``, ``VarianceType``,
    ``build_backend``), the strided timesteps, the checks the graded loops share
    (``check_timestep``, ``check_i_start``, ``check_mask``), the rule in force
    (``course_rule``, ``describe``), views and frequency splits for the illusions,
    the section runner (``run_task``, ``TaskOptions``, ``DEFAULTS``), images and tables.

Both set torch's CPU threads in their setup cell (``use_threads``: ``$FUNDIFF_THREADS``,
else torch's own count).

Part B (``course/part_b``):
    MNIST (``load_mnist``), devices, the training loop and its recipes (``train``,
    ``recipe``, ``TrainConfig``), checkpoints, the helpers the graded cells call
    (``as_feature_map``, ``time_column``, ``draw_flow_inputs``) and the figures.
"""

from __future__ import annotations

from fundiff.backends.base import Backend, Prediction, VarianceType
from fundiff.data import load_mnist
from fundiff.demo.build import draw_sketch
from fundiff.device import resolve_device
from fundiff.diffusion.cfg import DEFAULT_GUIDANCE, broadcast_batch
from fundiff.diffusion.denoise import MIN_VARIANCE, check_i_start
from fundiff.diffusion.edit import SDEDIT_I_STARTS, check_mask
from fundiff.diffusion.forward import check_timestep
from fundiff.diffusion.illusions import frequency_split, mean_variance
from fundiff.diffusion.rules import course_rule, describe
from fundiff.diffusion.views import IDENTITY, View, get_view
from fundiff.images import load_image, shipped_digits
from fundiff.kinds import LossFn, ModelFn
from fundiff.models.blocks import as_feature_map
from fundiff.models.unet import time_column
from fundiff.objectives.flow import draw_flow_inputs
from fundiff.parta.backend import build_backend
from fundiff.parta.options import DEFAULTS, TaskOptions
from fundiff.parta.tasks import run_task
from fundiff.schedules import strided_timesteps
from fundiff.threads import use_threads
from fundiff.training.checkpoint import load as load_checkpoint
from fundiff.training.config import TrainConfig, recipe
from fundiff.training.loop import train
from fundiff.training.run_dir import CHECKPOINT
from fundiff.viz import save_grid, save_loss_curve, save_table
from fundiff.writeup import PART_A, PART_B, i_start_label

__all__ = [
    "CHECKPOINT",
    "DEFAULTS",
    "DEFAULT_GUIDANCE",
    "IDENTITY",
    "MIN_VARIANCE",
    "PART_A",
    "PART_B",
    "SDEDIT_I_STARTS",
    "Backend",
    "LossFn",
    "ModelFn",
    "Prediction",
    "TaskOptions",
    "TrainConfig",
    "VarianceType",
    "View",
    "as_feature_map",
    "broadcast_batch",
    "build_backend",
    "check_i_start",
    "check_mask",
    "check_timestep",
    "course_rule",
    "describe",
    "draw_flow_inputs",
    "draw_sketch",
    "frequency_split",
    "get_view",
    "i_start_label",
    "load_checkpoint",
    "load_image",
    "load_mnist",
    "mean_variance",
    "recipe",
    "resolve_device",
    "run_task",
    "save_grid",
    "save_loss_curve",
    "save_table",
    "shipped_digits",
    "strided_timesteps",
    "time_column",
    "train",
    "use_threads",
]
