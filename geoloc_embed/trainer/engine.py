"""Compatibility shim: the shared training machinery under its historical module name.

Nothing inside the trainer imports this module any more; it stays so that code written against
``geoloc_embed.trainer.engine`` keeps working (the recipes in ``recipes/`` may still import from it).
New code imports from the modules the pieces live in, one concept each:

* ``devices``: ``resolve_device``, ``resolve_amp``, ``autocast``, ``full_precision``;
* ``distributed``: ``DistContext``, ``init_distributed``, ``gather_with_grad``;
* ``checkpoint``: ``CHECKPOINT_NAME``, ``load_checkpoint``, ``CheckpointError``;
* ``metrics``: ``MetricsLogger``;
* ``dropout``: ``FastCPUDropout``, ``use_fast_cpu_dropout``, ``restore_dropout``;
* ``runtime``: ``make_adam``, ``prepare_run_model``, ``epoch_generator``, ``rows``;
* ``loop``: ``TrainLoop``, ``StopTraining``.
"""

from __future__ import annotations

from .checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint
from .devices import autocast, full_precision, resolve_amp, resolve_device
from .distributed import DistContext, gather_with_grad, init_distributed
from .dropout import FastCPUDropout, restore_dropout, use_fast_cpu_dropout
from .loop import StopTraining, TrainLoop
from .metrics import MetricsLogger
from .runtime import epoch_generator, make_adam, prepare_run_model, rows

__all__ = [
    "resolve_device",
    "resolve_amp",
    "autocast",
    "full_precision",
    "DistContext",
    "init_distributed",
    "gather_with_grad",
    "MetricsLogger",
    "TrainLoop",
    "StopTraining",
    "CHECKPOINT_NAME",
    "load_checkpoint",
    "CheckpointError",
    "epoch_generator",
    "rows",
    "make_adam",
    "FastCPUDropout",
    "use_fast_cpu_dropout",
    "restore_dropout",
    "prepare_run_model",
]
