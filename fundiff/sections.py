"""The names of Part A's sections, as ``fundiff part-a`` and the demo call them, in the write-up's order.

They live apart from ``fundiff.parta`` so that the command line can list them
without importing torch (every ``fundiff`` command builds the whole parser).
"""

from __future__ import annotations

TASKS: tuple[str, ...] = (
    "part0", "forward", "blur", "one-step", "iterative", "sample", "cfg", "sdedit", "inpaint", "img2img", "anagram", "hybrid",
)  # fmt: skip
