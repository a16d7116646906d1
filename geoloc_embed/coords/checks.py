"""Hard validation of extracted coordinates: finite values and the canonical ranges.

Each failure is a :class:`~geoloc_embed.errors.CoordinateError` that names the first bad row (0-based)
in the user's own terms and says what to change.
"""

from __future__ import annotations

import math
from typing import List, Optional

import torch
from torch import Tensor

from ..errors import CoordinateError
from ._tensors import first_true, fmt
from .inputs import Source

__all__ = ["minmax", "check_finite", "check_ranges"]


def minmax(lon: Tensor, lat: Tensor, matrix: Optional[Tensor] = None, order: str = "lonlat") -> List[float]:
    """[lon min, lon max, lat min, lat max] in one host sync (NaN if any value is NaN)."""
    if matrix is not None:  # one pass over the (N, 2) block is much faster than two strided ones
        lo, hi = torch.aminmax(matrix, dim=0)
        i, j = (1, 0) if order == "latlon" else (0, 1)
        return torch.stack((lo[i], hi[i], lo[j], hi[j])).tolist()
    lon_lo, lon_hi = torch.aminmax(lon)
    lat_lo, lat_hi = torch.aminmax(lat)
    return torch.stack((lon_lo, lon_hi, lat_lo, lat_hi)).tolist()


def check_finite(lon: Tensor, lat: Tensor, stats: List[float], source: Source, dtype: torch.dtype) -> None:
    """Raise on the first NaN or infinite value; ``stats`` is :func:`minmax`'s result."""
    if all(math.isfinite(v) for v in stats):
        return
    i = first_true(~(torch.isfinite(lon) & torch.isfinite(lat)))
    raise CoordinateError(
        f"non-finite coordinate (NaN or inf) at {source.row(i, float(lon[i]), float(lat[i]), dtype)}; drop or "
        "fill missing values first, e.g. df.dropna(subset=[lon, lat]) or x[np.isfinite(x).all(axis=1)]")


def check_ranges(lon: Tensor, lat: Tensor, stats: List[float], source: Source, dtype: torch.dtype,
                 wrap: bool, projected_hint: bool) -> None:
    """Raise unless |lat| <= 90 and (without ``wrap``) |lon| <= 180, with the most likely fix."""
    lon_lo, lon_hi, lat_lo, lat_hi = stats
    max_abs_lon = max(-lon_lo, lon_hi)
    if max(-lat_lo, lat_hi) > 90.0:
        i = first_true(lat.abs() > 90.0)
        where = source.row(i, float(lon[i]), float(lat[i]), dtype)
        msg = f"latitude {fmt(float(lat[i]), dtype)} at {where} is outside [-90, 90]; "
        if max_abs_lon <= 90.0:
            msg += source.swap_hint()
        elif projected_hint and max(max_abs_lon, -lat_lo, lat_hi) > 360.0:
            msg += ("values this large look like projected coordinates (e.g. metres): pass crs='EPSG:<code>' "
                    "to reproject them")
        else:
            msg += "latitudes must be degrees within [-90, 90]; drop or fix the rows that are not"
        raise CoordinateError(msg)
    if not wrap and max_abs_lon > 180.0:
        i = first_true(lon.abs() > 180.0)
        where = source.row(i, float(lon[i]), float(lat[i]), dtype)
        msg = f"longitude {fmt(float(lon[i]), dtype)} at {where} is outside [-180, 180]; "
        if projected_hint and max_abs_lon > 720.0:
            msg += ("values this large look like projected coordinates (e.g. metres): pass crs='EPSG:<code>' "
                    "to reproject them, or ")
        msg += "pass wrap=True to wrap longitudes into [-180, 180) (e.g. for 0..360 data)"
        raise CoordinateError(msg)
