"""Trainer checkpoints: the file name, reading a ``checkpoint.pt`` safely, and the global random streams.

A checkpoint is one ``torch.save`` dict of plain tensors and containers, written atomically by the
loop (``geoloc_embed.trainer.loop.TrainLoop.save_checkpoint``). ``load_checkpoint`` reads it with
``torch.load(weights_only=True)`` (loading never runs pickled code) and checks its structure, so
a truncated, tampered or foreign file (an HTML error page, a pickle of code, a model archive) is
refused with a ``CheckpointError`` naming the file and the problem instead of a traceback.

Layout (``CHECKPOINT_FORMAT``): ``format``, ``kind`` (the run config class), ``config`` (dict),
``model`` (state_dict), ``param_names``, ``optimizer`` (state_dict), ``scaler`` (dict or None),
``epoch``, ``batch_in_epoch``, ``global_step`` (ints >= 0), ``finished`` (bool), ``rng`` (one
{"cpu": ByteTensor[, "cuda": ByteTensor]} per rank), ``generators`` (name -> ByteTensor) and
``extra`` (dict).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Union

import torch

from ..convert.unpickle import load_weights_only
from ..errors import WeightsError

__all__ = [
    "CHECKPOINT_NAME",
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "RESUME_HINT",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "geoloc_embed.trainer/1"

#: What a user can do about an unreadable checkpoint of the run being resumed.
RESUME_HINT = ("delete it, or run without --resume (resume=False), to start this run from scratch "
               "(or write to another --output-dir)")


class CheckpointError(WeightsError):
    """A trainer ``checkpoint.pt`` that is truncated, tampered with, not a checkpoint, or of another run."""


def _fail(path: Path, problem: str, hint: str) -> CheckpointError:
    return CheckpointError(f"trainer checkpoint {path}: {problem}; {hint}")


def _sniff(path: Path, hint: str) -> None:
    """Refuse what is plainly not a torch.save file before unpickling anything."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})", hint) from exc
    if not head:
        raise _fail(path, "is empty (0 bytes: a crash or a full disk while it was written?)", hint)
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        raise _fail(path, "is an HTML/XML page, not a torch checkpoint (a web error page saved under its name?)",
                    hint)
    if text.startswith((b"{", b"[")):
        raise _fail(path, "is a JSON/text file, not a torch checkpoint", hint)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        raise _fail(path, "is not a file written by torch.save (unknown leading bytes)", hint)


def _load(path: Path, map_location: Any, hint: str) -> Any:
    """The package's one weights-only unpickler, its errors naming the checkpoint and ``hint``."""
    return load_weights_only(path, source=f"trainer checkpoint {path}", map_location=map_location, advice=hint,
                             error=CheckpointError)


def _is_state_dict(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in value.items())


def _check_structure(state: Any, path: Path, hint: str) -> dict:
    if not isinstance(state, dict):
        raise _fail(path, f"holds a {type(state).__name__}, not a trainer checkpoint dict", hint)
    fmt = state.get("format")
    if fmt != CHECKPOINT_FORMAT:
        what = ("has no 'format' entry: it is not a geoloc_embed trainer checkpoint (a model file? load those "
                "with LocationEncoder.from_pretrained)") if fmt is None else \
            f"has format {fmt!r}; this version reads {CHECKPOINT_FORMAT!r}"
        raise _fail(path, what, hint)
    problems = []
    if not isinstance(state.get("kind"), str):
        problems.append("'kind' is not a string")
    if not isinstance(state.get("config"), dict) or not isinstance(state["config"].get("model"), dict):
        problems.append("'config' is not a run config dict with a 'model' architecture")
    if not _is_state_dict(state.get("model")):
        problems.append("'model' is not a state_dict of named tensors")
    names = state.get("param_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        problems.append("'param_names' is not a list of strings")
    opt = state.get("optimizer")
    if not (isinstance(opt, dict) and isinstance(opt.get("state"), dict) and isinstance(opt.get("param_groups"), list)):
        problems.append("'optimizer' is not an optimizer state_dict")
    if state.get("scaler") is not None and not isinstance(state["scaler"], dict):
        problems.append("'scaler' is neither None nor a GradScaler state_dict")
    for key in ("epoch", "batch_in_epoch", "global_step"):
        value = state.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{key!r} is {value!r}, not an integer >= 0")
    if not isinstance(state.get("finished", False), bool):
        problems.append("'finished' is not a boolean")
    rng = state.get("rng")
    if not (isinstance(rng, list) and rng and all(
            isinstance(r, dict) and isinstance(r.get("cpu"), torch.Tensor) and r["cpu"].dtype == torch.uint8
            for r in rng)):
        problems.append("'rng' is not a list of per-rank random states (uint8 tensors)")
    gens = state.get("generators", {})
    if not (isinstance(gens, dict) and all(isinstance(g, torch.Tensor) and g.dtype == torch.uint8
                                           for g in gens.values())):
        problems.append("'generators' is not a dict of generator states (uint8 tensors)")
    if not isinstance(state.get("extra", {}), dict):
        problems.append("'extra' is not a dict")
    if problems:
        raise _fail(path, "is damaged or was edited: " + "; ".join(problems), hint)
    return state


def load_checkpoint(path: Union[str, Path], map_location: Any = "cpu", *, hint: str = RESUME_HINT) -> dict:
    """Read and check a trainer checkpoint (plain tensors and containers only: ``weights_only=True``).

    Args:
        path: the ``checkpoint.pt`` file.
        map_location: as for ``torch.load``.
        hint: what the user can do about a bad file, appended to the error message.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is empty, truncated, HTML/text, holds pickled code, is not a
            trainer checkpoint, or has entries of the wrong type (the message names the file,
            the problem and ``hint``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trainer checkpoint {path} does not exist")
    _sniff(path, hint)
    return _check_structure(_load(path, map_location, hint), path, hint)


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
