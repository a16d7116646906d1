"""What every recipe writes at the end of a run: the model directory and its ``training_summary.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Union

from geoloc_embed import LocationEncoder
from geoloc_embed.io import atomic_write_text

__all__ = ["save_run"]


def save_run(encoder: LocationEncoder, out_dir: Union[str, os.PathLike], summary: dict[str, Any]) -> Path:
    """``encoder.save_pretrained(out_dir)`` (swapped in whole), then ``training_summary.json`` (JSON of
    ``summary``) written atomically beside it. Returns the directory."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(out)
    atomic_write_text(out / "training_summary.json", json.dumps(summary, indent=2) + "\n")
    return out
