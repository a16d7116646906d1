"""The one weights-only unpickler of geoloc_embed, with its one allow-list.

Every pickled file the package reads (CSP/TorchSpatial ``.pth.tar``, SatCLIP ``.ckpt``, GeoCLIP ``.pth``,
the trainer's checkpoints) goes through ``load_weights_only``: ``torch.load(weights_only=True)``, which
rebuilds only tensors and plain containers, plus the classes in ``SAFE_GLOBALS``, allowed inside a
``torch.serialization.safe_globals`` scope (never registered globally). No pickled code runs.

Failures become one ``WeightsError`` that names the file and the problem: a disallowed object (with
the global it asked for), an HTML page saved in place of the file, a truncated or corrupted file.
"""

import argparse
import contextlib
import os
import pathlib
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Optional, Union

import torch

from ..errors import WeightsError

__all__ = ["SAFE_GLOBALS", "load_weights_only"]


def _numpy_globals() -> list[Any]:
    """numpy value types some TorchSpatial files pickle inside ``params`` (csp-spec.md section 9 item 15)."""
    import numpy as np

    allowed: list[Any] = [np.dtype]
    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    allowed.append((scalar, "numpy.core.multiarray.scalar"))
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in ("Int64DType", "Float64DType", "Float32DType", "Int32DType",
                                                       "BoolDType") if hasattr(dtypes, name)]
    return allowed


#: Classes the unpickler may rebuild besides tensors and plain containers: value types whose
#: construction runs no code (argparse.Namespace and paths: SatCLIP's Lightning hyper_parameters;
#: numpy dtypes and scalars: TorchSpatial's params).
SAFE_GLOBALS: tuple[Any, ...] = (argparse.Namespace, pathlib.PosixPath, pathlib.WindowsPath,
                                 pathlib.PurePosixPath, pathlib.PureWindowsPath, *_numpy_globals())


#: What a user can do about an unreadable downloaded or converted checkpoint.
DOWNLOAD_ADVICE = "download it again (and check its sha256)"


def load_weights_only(path: Union[str, "os.PathLike[str]"], *, source: Optional[str] = None,
                      map_location: Any = "cpu", advice: str = DOWNLOAD_ADVICE,
                      error: type[WeightsError] = WeightsError) -> Any:
    """Read a ``torch.save`` file without executing pickled code.

    Args:
        path: the file.
        source: how to name the file in errors (default: ``path``), e.g. ``"model_dir.zip#member"``
            for a member extracted to a temporary file.
        map_location: passed to ``torch.load``.
        advice: what the user can do about an unreadable file, ending the error messages.
        error: the ``WeightsError`` subclass to raise (the trainer's ``CheckpointError``).

    Returns:
        What was saved: tensors, dicts, lists, tuples, numbers, strings and ``SAFE_GLOBALS`` values.

    Raises:
        WeightsError: the file is missing, is not a PyTorch file (an HTML page, a truncated download),
            or holds objects outside the allow-list (its message names the refused global).
    """
    path = Path(path)
    label = source or str(path)
    if not path.is_file():
        raise error(f"{label} does not exist or is not a file")
    head = _head(path)
    if head.lstrip().lower().startswith((b"<!doctype", b"<html", b"<?xml", b"<head")):
        raise error(f"{label} is an HTML/XML page, not a PyTorch checkpoint (a web error or login page saved "
                    f"under its name?); {advice}")
    scope = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5; never global state
    try:
        with scope(list(SAFE_GLOBALS)) if scope is not None else contextlib.nullcontext():
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        refused = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"Unsupported (?:operand|class) ([^\s.]+)", text)
        if refused is None:
            raise error(f"{label} is not a readable PyTorch checkpoint ({text.strip()[:200]}); it is "
                        f"truncated or corrupted, or another kind of file: {advice}") from exc
        raise error(
            f"{label} contains pickled Python objects that geoloc_embed refuses to load with its weights-only "
            f"unpickler ({refused.group(1)}); only tensors, plain containers and a few value types are allowed, "
            "because loading anything else would execute code from the file"
            + (". If you trust the file, re-save it with plain values (torch.save({'state_dict': ..., 'params': "
               "dict(...)}))." if advice == DOWNLOAD_ADVICE else f"; {advice}")) from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError, IndexError, AttributeError,
            TypeError, MemoryError, OverflowError) as exc:
        raise error(
            f"{label} is not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc).strip()[:200]}); it "
            f"is truncated or corrupted, or another kind of file: {advice}") from exc


def _head(path: Path, size: int = 64) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise WeightsError(f"cannot read {path}: {exc}") from exc
