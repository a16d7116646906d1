"""Hard validation of extracted coordinates: finite values and the canonical ranges.

Each failure is a :class:`~geoloc_embed.errors.CoordinateError` that names the first bad row (0-based)
in the user's own terms and says what to change.
"""

from __future__ import annotations

import math
from typing import List, Optional

import numpy as np
import torch
from torch import Tensor

from ..errors import CoordinateError
from ._tensors import first_true, fmt
from .inputs import Source
from .sphere import wrap_limit

__all__ = ["LATITUDE_TOLERANCE_DEG", "minmax", "check_finite", "check_ranges"]

#: Latitudes past +-90 by at most this many degrees (about 1 m; > 1 float32 step at 90) are called
#: rounding, and the error suggests clipping instead of a swapped order.
LATITUDE_TOLERANCE_DEG = 1e-5


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
    """Raise unless |lat| <= 90 and (without ``wrap``) |lon| <= 180, with the most likely fix.

    With ``wrap`` a longitude beyond :func:`~.sphere.wrap_limit` (2**24 in float32, 2**53 in float64)
    is refused too: its dtype no longer holds whole degrees there, so no wrapped value would mean anything.
    A latitude past +-90 by at most ``LATITUDE_TOLERANCE_DEG`` is named as rounding (clip it), never as
    a swapped order; a swap is suggested only when the data look swapped (the overshoot is larger and
    every longitude would be a valid latitude).
    """
    lon_lo, lon_hi, lat_lo, lat_hi = stats
    max_abs_lon = max(-lon_lo, lon_hi)
    max_abs_lat = max(-lat_lo, lat_hi)
    if max_abs_lat > 90.0:
        bad = lat.abs() > 90.0
        i = first_true(bad)
        count = int(bad.sum())
        where = source.row(i, float(lon[i]), float(lat[i]), dtype)
        rows = f" ({count} of {lat.shape[0]} rows)" if lat.shape[0] > 1 else ""
        msg = f"latitude {fmt(float(lat[i]), dtype)} at {where}{rows} is outside [-90, 90]; "
        overshoot = max_abs_lat - 90.0
        if overshoot <= LATITUDE_TOLERANCE_DEG:
            msg += (f"the largest overshoot is {overshoot:.3g} degrees (at most {LATITUDE_TOLERANCE_DEG:g}), which "
                    f"looks like floating-point rounding rather than a swapped order: {source.clip_hint()}")
        elif max_abs_lon <= 90.0:
            msg += (f"{source.swap_hint()} (if they are in the declared order with a few bad latitudes, drop or "
                    "fix those rows instead)")
        elif projected_hint and max(max_abs_lon, max_abs_lat) > 360.0:
            msg += ("values this large look like projected coordinates (e.g. metres): pass crs='EPSG:<code>' "
                    "to reproject them")
        else:
            msg += "latitudes must be degrees within [-90, 90]; drop or fix the rows that are not"
        raise CoordinateError(msg)
    if max_abs_lon > 180.0 and not wrap:
        i = first_true(lon.abs() > 180.0)
        where = source.row(i, float(lon[i]), float(lat[i]), dtype)
        msg = f"longitude {fmt(float(lon[i]), dtype)} at {where} is outside [-180, 180]; "
        if projected_hint and max_abs_lon > 720.0:
            msg += ("values this large look like projected coordinates (e.g. metres): pass crs='EPSG:<code>' "
                    "to reproject them, or ")
        msg += "pass wrap=True to wrap longitudes into [-180, 180) (e.g. for 0..360 data)"
        raise CoordinateError(msg)
    limit = wrap_limit(dtype)
    if max_abs_lon > limit:
        i = first_true(lon.abs() > limit)
        value = float(lon[i])
        spacing = math.ulp(value) if dtype == torch.float64 else float(np.spacing(np.float32(abs(value))))
        name = str(dtype).replace("torch.", "")
        raise CoordinateError(
            f"longitude {fmt(value, dtype)} at {source.row(i, value, float(lat[i]), dtype)} is too large to wrap: "
            f"{name} values of this size are {spacing:.3g} degrees apart, so the number no longer says where "
            f"around the globe the point is ({name} holds whole degrees only up to {limit:.0f}); these are not "
            "longitudes: drop or fix those rows")
