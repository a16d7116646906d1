"""A coarse land mask shipped with the package (5 kB), for plausibility checks of coordinates.

0.5-degree cells, land where any 30-arc-second pixel of NOAA's GLOBE land/ocean mask is land (public
domain; see :mod:`geoloc_embed.coords.make_landmask` for the source, the license and how to
regenerate the file). Coastal cities and small islands count as land. It is far too coarse for
labels: it only tells whether a point set lies mostly on land or at sea.
"""

from __future__ import annotations

import functools
import zlib
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["RES_DEG", "land_grid", "on_land"]

RES_DEG = 0.5
_ROWS, _COLS = 360, 720
_FILE = "landmask_0.5deg.bin"


@functools.lru_cache(maxsize=1)
def land_grid() -> np.ndarray:
    """(360, 720) read-only bool ndarray, row 0 = latitudes 90..89.5 N, column 0 = longitudes -180..-179.5."""
    data = resources.files("geoloc_embed.coords").joinpath(_FILE).read_bytes()
    try:
        bits = np.frombuffer(zlib.decompress(data), dtype=np.uint8)
    except zlib.error as exc:
        raise RuntimeError(f"geoloc_embed/coords/{_FILE} is damaged ({exc}); reinstall geoloc-embed") from exc
    if bits.size * 8 != _ROWS * _COLS:
        raise RuntimeError(f"geoloc_embed/coords/{_FILE} is damaged ({bits.size} bytes unpacked); "
                           "reinstall geoloc-embed")
    grid = np.unpackbits(bits).astype(bool).reshape(_ROWS, _COLS)
    grid.flags.writeable = False
    return grid


def on_land(lon: Any, lat: Any) -> np.ndarray:
    """(N,) lon, lat degrees (canonical ranges; array-likes or CPU tensors) -> (N,) bool: True in land cells.

    numpy, because the heuristics call it on small host-side samples where torch's per-op
    overhead dominates.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    row = np.clip(np.floor((90.0 - lat) / RES_DEG), 0, _ROWS - 1).astype(np.intp)
    col = np.floor((lon + 180.0) / RES_DEG).astype(np.intp) % _COLS
    return land_grid()[row, col]
