"""Regenerate ``landmask_0.5deg.bin``, the coarse land mask behind the swapped-order warning.

Run ``python -m geoloc_embed.coords.make_landmask`` (needs ``pip install global-land-mask==1.0.0``,
part of the ``bench`` extra; nothing is downloaded). The shipped file is exactly what this writes.

Source and license:
    ``globe_combined_mask_compressed.npz`` from the PyPI package ``global-land-mask`` 1.0.0 (MIT
    license), a 30-arc-second (about 1 km) land/ocean mask derived from NOAA's GLOBE digital
    elevation model (Hastings & Dunbar 1999, NOAA National Geophysical Data Center), which is in
    the public domain. The same file backs the benchmark's ``land-ocean`` task. The coarse mask
    derived here is therefore public domain as well.

Format (read by :mod:`geoloc_embed.coords.landmask`):
    a 0.5-degree grid of 360 rows (row 0 covers latitudes 90 to 89.5 N) by 720 columns (column 0
    covers longitudes -180 to -179.5), one bit per cell, packed with ``numpy.packbits`` in row-major
    order and compressed with zlib (level 9). A cell is land when **any** of its 60 x 60 GLOBE
    pixels is land, so coastal cities and small islands count as land: 36.7 % of the cells.
"""

from __future__ import annotations

import argparse
import importlib.util
import zlib
from pathlib import Path

import numpy as np

__all__ = ["ROWS", "COLS", "RES_DEG", "MASK_PATH", "coarse_land_mask", "encode", "main"]

RES_DEG = 0.5
ROWS, COLS = 360, 720
MASK_PATH = Path(__file__).with_name("landmask_0.5deg.bin")
_SOURCE_FILE = "globe_combined_mask_compressed.npz"


def _source_path() -> Path:
    spec = importlib.util.find_spec("global_land_mask")  # located, not imported
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location) / _SOURCE_FILE
        if path.is_file():
            return path
    raise SystemExit("global-land-mask is not installed: pip install global-land-mask==1.0.0")


def coarse_land_mask(source: Path | None = None) -> np.ndarray:
    """(360, 720) bool: True where any 30'' GLOBE pixel of the 0.5-degree cell is land."""
    with np.load(source or _source_path(), allow_pickle=False) as data:
        lat, lon, ocean = data["lat"], data["lon"], data["mask"]
    k = int(round(RES_DEG * 120))
    if ocean.shape != (ROWS * k, COLS * k) or abs(lat[0] - 90.0) > 1e-6 or abs(lon[0] + 180.0) > 1e-6:
        raise SystemExit(f"unexpected layout of {_SOURCE_FILE}; use global-land-mask==1.0.0")
    # any pixel land == not every pixel ocean (no inverted copy of the ~1 GB source mask)
    return ~ocean.reshape(ROWS, k, COLS, k).all(axis=(1, 3))


def encode(mask: np.ndarray) -> bytes:
    """(360, 720) bool -> the bytes of ``landmask_0.5deg.bin``."""
    if mask.shape != (ROWS, COLS) or mask.dtype != np.bool_:
        raise ValueError(f"expected a ({ROWS}, {COLS}) bool mask, got {mask.shape} {mask.dtype}")
    return zlib.compress(np.packbits(mask.reshape(-1)).tobytes(), 9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MASK_PATH, help=f"output file (default {MASK_PATH})")
    args = parser.parse_args(argv)
    mask = coarse_land_mask()
    data = encode(mask)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({len(data)} bytes; {mask.mean():.1%} of the cells are land)")


if __name__ == "__main__":
    main()
