"""Which model an integration runs: a reference resolved once per process.

Engines run the batch function in worker processes (Dask workers, Ray actors, Spark Python
workers). Sending a model *reference* there (a registered name, a model directory, an
``hf-hub:`` name) and loading it on the worker is cheaper and safer than pickling a module into
every task, and :func:`load_encoder` loads each reference once per process (thread-safe), however
many batches or tasks use it. A ``LocationEncoder`` instance is also accepted and used as is.
"""

import os
import threading
from typing import Any, Union

from ..encoders.model import LocationEncoder
from ..zoo import DEFAULT_MODEL

__all__ = ["ModelRef", "load_encoder", "model_name", "clear_cache"]

#: A ``LocationEncoder``, or what ``LocationEncoder.from_pretrained`` accepts; None is the bundled default.
ModelRef = Union["LocationEncoder", str, "os.PathLike[str]", None]

_CACHE: dict[tuple[str, str, bool], Any] = {}
_LOCK = threading.Lock()


def _reference(model: ModelRef) -> str:
    if model is None:
        if DEFAULT_MODEL is None:
            raise ValueError("no default model is bundled; pass model='NAME' or a model directory")
        return DEFAULT_MODEL
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    raise TypeError(f"model must be a LocationEncoder, a registered name, a model directory or None, "
                    f"got {type(model).__name__}")


def load_encoder(model: ModelRef = None, *, device: str = "cpu", local_files_only: bool = False) -> "LocationEncoder":
    """The ``LocationEncoder`` for ``model``, loaded at most once per process and reference.

    Args:
        model: a ``LocationEncoder`` (returned unchanged), a registered name, a model directory,
            a checkpoint file or ``hf-hub:org/repo``; None for the bundled default model.
        device: where a loaded model lives (``map_location``).
        local_files_only: never download (for workers without network access).

    Returns:
        The model in eval mode. Cached models are shared by every caller in the process: do not
        modify them (``encode`` does not).
    """
    if isinstance(model, LocationEncoder):
        return model
    key = (_reference(model), str(device), bool(local_files_only))
    with _LOCK:
        found = _CACHE.get(key)
        if found is None:
            found = LocationEncoder.from_pretrained(key[0], map_location=device, local_files_only=local_files_only)
            _CACHE[key] = found
    return found


def model_name(model: ModelRef) -> str:
    """A short description of ``model`` for metadata and messages (its reference, or its registered name)."""
    if isinstance(model, LocationEncoder):
        spec = getattr(model, "pretrained_spec", None)
        return str(getattr(spec, "name", None) or f"<{type(model).__name__} embed_dim={model.embed_dim}>")
    return _reference(model)


def clear_cache() -> None:
    """Forget every model :func:`load_encoder` loaded in this process."""
    with _LOCK:
        _CACHE.clear()
