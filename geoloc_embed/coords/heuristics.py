"""Warnings for coordinates that are valid but look wrong: radians passed as degrees, a swapped order.

These are heuristics: they only warn (:class:`CoordinateWarning`), need at least
``HEURISTIC_MIN_POINTS`` points, and ``to_canonical(..., check_order=False)`` silences them.
"""

from __future__ import annotations

import math
import warnings
from typing import List

import torch
from torch import Tensor

from .inputs import Source

__all__ = ["CoordinateWarning", "POLAR_CIRCLE_DEG", "RADIANS_LIMIT", "HEURISTIC_MIN_POINTS", "heuristic_warnings"]

#: Latitude of the polar circles, degrees (used by the swapped-order heuristic).
POLAR_CIRCLE_DEG = 66.56
#: Inputs whose every |value| is at most this (pi, rounded up for float32) look like radians.
RADIANS_LIMIT = 3.1416
#: Heuristic warnings need at least this many points.
HEURISTIC_MIN_POINTS = 10
#: Medians for the heuristics are taken on an evenly strided subsample of at most ~2x this size.
_HEURISTIC_SAMPLE = 65536


class CoordinateWarning(UserWarning):
    """Coordinates that are valid but look wrong (swapped order, radians instead of degrees).

    Silence with ``check_order=False`` or ``warnings.filterwarnings("ignore", category=CoordinateWarning)``.
    """


def heuristic_warnings(lon: Tensor, lat: Tensor, stats: List[float], source: Source, stacklevel: int = 3) -> None:
    """Warn about radians or a swapped order; ``stats`` is [lon min, lon max, lat min, lat max]."""
    n = lon.shape[0]
    if n < HEURISTIC_MIN_POINTS:
        return
    lon_lo, lon_hi, lat_lo, lat_hi = stats
    max_abs = max(-lon_lo, lon_hi, -lat_lo, lat_hi)
    if 0.0 < max_abs <= RADIANS_LIMIT:
        warnings.warn(
            f"all {n} coordinates are within +-pi (largest |value| {max_abs:.6g}): they look like radians, "
            "but degrees are expected; convert with geoloc_embed.coords.rad2deg(coords), or pass "
            "check_order=False if they really are degrees", CoordinateWarning, stacklevel=stacklevel)
        return
    if max(-lon_lo, lon_hi) > 90.0:
        return  # only (lat, lon) data can be swapped without breaking |lat| <= 90
    step = max(1, n // _HEURISTIC_SAMPLE)
    med_lat, med_lon = torch.stack((lat[::step].abs().median(), lon[::step].abs().median())).tolist()
    if med_lat <= POLAR_CIRCLE_DEG or med_lon >= POLAR_CIRCLE_DEG:
        return
    east_west = (lon_hi - lon_lo) * math.cos(math.radians(med_lat))
    if east_west >= lat_hi - lat_lo:
        return
    warnings.warn(
        f"most points lie beyond the polar circles (median |latitude| {med_lat:.1f}) in a region taller "
        f"than it is wide, while the other column would put them at mid latitudes: {source.swap_hint()} if so, "
        "or pass check_order=False to silence this warning", CoordinateWarning, stacklevel=stacklevel)
