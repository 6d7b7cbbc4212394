"""The demo: every figure of the write-up, from the shipped models, on one HTML page.

- ``catalogue``: each figure's section, caption and regenerating command, as data;
- ``render``: the HTML page of a list of entries;
- ``build``: ``run_demo``, which draws the figures and publishes the page.

The command is ``fundiff demo`` (``fundiff.cli.demo``).
"""
