"""The names of Part A's sections, as ``fundiff part-a`` and the demo call them, in the write-up's order.

Importing this module imports nothing else (no torch): the command line lists
the sections in its parser, which every ``fundiff`` command builds.
"""

from __future__ import annotations

TASKS: tuple[str, ...] = (
    "part0", "forward", "blur", "one-step", "iterative", "sample", "cfg", "sdedit", "inpaint", "img2img", "anagram", "hybrid",
)  # fmt: skip
"""Every section, in the write-up's order."""

ITERATIVE_TASKS: frozenset[str] = frozenset(
    {"iterative", "sample", "cfg", "sdedit", "inpaint", "img2img", "anagram", "hybrid"}
)
"""The tasks drawn by fundiff's strided loop, so by the update rule in force (``rules.current_rule()``)."""
