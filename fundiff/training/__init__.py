"""Part B training: the configuration, the loop, the run directory, the optimiser and the steps.

Modules: ``config`` (``TrainConfig`` and the recipes), ``loop`` (``train``), ``run_dir``
(config, metrics and checkpoint on disk, resume), ``optim`` (Adam, schedule, EMA, autocast),
``step`` (one optimiser step, eager or CUDA-graphed), ``checkpoint`` (the file format),
``weights`` (trained models on disk) and ``figures`` (what a run draws, per kind).
"""
