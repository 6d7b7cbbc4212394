"""Part B models: UNet blocks and the three UNets."""

from fundiff.models.unet import (
    ClassConditionalUNet,
    TimeConditionalUNet,
    UnconditionalUNet,
    UNetTrunk,
)

__all__ = ["ClassConditionalUNet", "TimeConditionalUNet", "UnconditionalUNet", "UNetTrunk"]
