"""The base of every benchmark task: metadata, the label reader's contract and fixed-seed sampling.

Every task documents its source, license, resolution, label definition and caveats, and offers

* ``labels(lonlat)``: a vectorised reader, (N, 2) [lon, lat] degrees -> (N,) labels. Regression
  labels are float64 with NaN where the label is undefined (e.g. ocean for a land-only task);
  classification labels are int64 indices into ``class_names`` with -1 where undefined.
* ``sample(n, seed)``: the task's fixed-seed evaluation points and their labels (uniform on the
  sphere, restricted to where the label is defined; a point dataset draws from its points).

Data files are read lazily on first use and kept in memory until ``release()``; nothing is ever
downloaded. A task whose package is missing raises ``DataUnavailableError`` (``available()`` says so
up front).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ...coords import to_canonical
from ..data import DataUnavailableError, package_version, sample_uniform_sphere

__all__ = ["Task", "importlib_missing"]


def importlib_missing(module: str) -> bool:
    """True when ``module`` cannot be imported (checked without importing it)."""
    return importlib.util.find_spec(module) is None


def _as_lonlat(lonlat: np.ndarray) -> np.ndarray:
    """(N, 2) or (2,) [lon, lat] degrees -> validated (N, 2) float64 ndarray, longitudes wrapped.

    :func:`geoloc_embed.coords.to_canonical` (a CoordinateError, which is a ValueError, names the
    bad row and the fix); longitudes outside [-180, 180] are wrapped, as the readers did before.
    """
    return to_canonical(lonlat, "lonlat", wrap=True, dtype=torch.float64, device="cpu", check_order=False).numpy()


class Task:
    """Base class: metadata plus the label reader. Subclasses set the class attributes and ``_read``."""

    name: str = ""
    title: str = ""
    kind: str = "regression"  # or "classification"
    domain: str = "global"  # "global", "land", "ocean" or "points"
    units: str = ""
    pip_name: str = ""  # distribution holding the data (what to pip install)
    module: str = ""  # its import name, used to find the data file without importing it
    source: str = ""
    license: str = ""
    resolution: str = ""
    label_definition: str = ""
    caveats: str = ""
    #: Bump when the labels a task produces change (invalidates cached labels).
    version: int = 1
    #: Uniform points drawn per wanted point when the label is defined only on part of the sphere.
    oversample: float = 1.0

    def __init__(self) -> None:
        self._loaded = False

    # -------------------------------------------------------------- metadata
    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    @property
    def class_names(self) -> Optional[list[str]]:
        """Class names for classification tasks (label i is ``class_names[i]``), else None."""
        return None

    def available(self) -> bool:
        """True when the data package is installed (cheap; reads nothing)."""
        try:
            self._data_path()
        except DataUnavailableError:
            return False
        return True

    def unavailable_reason(self) -> str:
        try:
            self._data_path()
        except DataUnavailableError as exc:
            return str(exc)
        return ""

    def data_version(self) -> str:
        """Installed version of the data package (part of the label cache key)."""
        return package_version(self.pip_name)

    def describe(self) -> dict[str, str]:
        return {
            "name": self.name, "title": self.title, "kind": self.kind, "domain": self.domain,
            "units": self.units, "package": f"{self.pip_name} {self.data_version()}".strip(),
            "source": self.source, "license": self.license, "resolution": self.resolution,
            "label": self.label_definition, "caveats": self.caveats,
        }

    # -------------------------------------------------------------- data
    def _data_path(self) -> Path:  # pragma: no cover - abstract
        """The data file the labels come from; raises DataUnavailableError when it is missing."""
        raise NotImplementedError

    def _load(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read(self, lonlat: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> "Task":
        if not self._loaded:
            self._load()
            self._loaded = True
        return self

    def release(self) -> None:
        """Drop the data held in memory (it is read again on the next call)."""
        for key in list(vars(self)):
            if key.startswith("_d_"):
                delattr(self, key)
        self._loaded = False

    def labels(self, lonlat: np.ndarray) -> np.ndarray:
        """Labels at (N, 2) [lon, lat] degrees; NaN (regression) or -1 (classification) where undefined."""
        arr = _as_lonlat(lonlat)
        self.load()
        if arr.shape[0] == 0:
            return np.empty(0, dtype=np.int64 if self.is_classification else np.float64)
        out = self._read(arr)
        return out.astype(np.int64 if self.is_classification else np.float64, copy=False)

    @staticmethod
    def defined(y: np.ndarray) -> np.ndarray:
        """Boolean mask of defined labels."""
        if np.issubdtype(y.dtype, np.integer):
            return y >= 0
        return np.isfinite(y)

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fixed-seed points uniform on the sphere where the label is defined, and their labels."""
        self.load()
        got_x: list[np.ndarray] = []
        got_y: list[np.ndarray] = []
        have = 0
        draw = max(64, int(math.ceil(n * self.oversample * 1.1)))
        for attempt in range(50):
            # A different, deterministic stream per attempt (seed, attempt) keeps extra draws independent.
            pts = sample_uniform_sphere(draw, seed=(seed * 1000003 + attempt) % (2**63))
            y = self.labels(pts)
            ok = self.defined(y)
            got_x.append(pts[ok])
            got_y.append(y[ok])
            have += int(ok.sum())
            if have >= n:
                break
        else:  # pragma: no cover - only for a broken data file
            raise RuntimeError(f"task {self.name}: labels are defined almost nowhere; is the data file corrupt?")
        return np.concatenate(got_x)[:n], np.concatenate(got_y)[:n]

