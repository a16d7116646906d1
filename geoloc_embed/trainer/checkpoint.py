"""Trainer checkpoints: the file name, reading a ``checkpoint.pt`` safely, and the global random streams.

A checkpoint is one ``torch.save`` dict (plain tensors and containers, read back with
``torch.load(weights_only=True)``, so loading never runs pickled code), written atomically by the
loop (``geoloc_embed.trainer.loop.TrainLoop.save_checkpoint``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

__all__ = ["CHECKPOINT_NAME", "load_checkpoint", "rng_state", "set_rng_state"]

CHECKPOINT_NAME = "checkpoint.pt"


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict:
    """Load a trainer checkpoint (plain tensors and containers only: ``weights_only=True``)."""
    return torch.load(path, map_location=map_location, weights_only=True)


def rng_state() -> dict[str, Any]:
    """This process's global torch random states: {"cpu": ByteTensor[, "cuda": ByteTensor]}."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    torch.set_rng_state(state["cpu"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())
