"""Warnings for coordinates that are valid but look wrong: radians passed as degrees, a swapped order.

These are heuristics: they only warn (:class:`CoordinateWarning`), need at least
``HEURISTIC_MIN_POINTS`` points, and ``to_canonical(..., check_order=False)`` silences them.
A swap can only be suspected when both readings are valid (every |longitude| <= 90). Two rules:

* land mask: with the columns swapped at most 5 % of the points lie off land (sea, by the shipped
  0.5-degree mask of :mod:`.landmask`, or Antarctica), as given at least 20 %. Land-based data
  (cities, observations) lie ~100 % on that dilated mask, so (lat, lon) lists of Europe, Africa or
  Brazil passed as lonlat are caught; uniform global or ocean points never are (the swapped
  reading of such points is ~60 % off land). Regional sea data whose mirror image lies on land
  (Black Sea, Persian Gulf) are the known false positives: the message says to pass
  ``check_order=False`` for data at sea.
* polar: most points lie beyond the polar circles in a region taller than wide, while the other
  reading would put them at mid latitudes (mid-latitude (lat, lon) data read as (lon, lat)).
"""

from __future__ import annotations

import math
import warnings
from typing import List

import numpy as np
import torch
from torch import Tensor

from .inputs import Source
from .landmask import on_land

__all__ = ["CoordinateWarning", "POLAR_CIRCLE_DEG", "RADIANS_LIMIT", "HEURISTIC_MIN_POINTS", "GIVEN_MIN_OFF_LAND",
           "SWAPPED_MAX_OFF_LAND", "ANTARCTIC_LAT_DEG", "heuristic_warnings"]

#: Latitude of the polar circles, degrees (used by the swapped-order heuristic).
POLAR_CIRCLE_DEG = 66.56
#: Inputs whose every |value| is at most this (pi, rounded up for float32) look like radians.
RADIANS_LIMIT = 3.1416
#: Heuristic warnings need at least this many points.
HEURISTIC_MIN_POINTS = 10
#: Medians and land shares are taken on an evenly strided subsample of at most ~2x this size.
_HEURISTIC_SAMPLE = 65536
#: Land-mask rule: warn when at least this share of the points is off land as given ...
GIVEN_MIN_OFF_LAND = 0.2
#: ... while at most this share is off land with the two columns swapped.
SWAPPED_MAX_OFF_LAND = 0.05
#: South of this latitude the land-mask rule counts land as implausible (Antarctica hosts few data sets).
ANTARCTIC_LAT_DEG = -60.0


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
    if _land_says_swapped(lon[::step], lat[::step], source, stacklevel + 1):
        return
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


def _off_land(lon: np.ndarray, lat: np.ndarray) -> float:
    """Share of points outside the plausible land: ocean cells of the coarse mask, or Antarctica."""
    plausible = on_land(lon, lat) & (lat >= ANTARCTIC_LAT_DEG)
    return 1.0 - float(np.count_nonzero(plausible)) / max(1, plausible.size)


def _land_says_swapped(lon: Tensor, lat: Tensor, source: Source, stacklevel: int) -> bool:
    """Warn (and return True) when the swapped reading lies on land and the given one largely does not."""
    lonlat = torch.stack((lon, lat), dim=1).detach().to("cpu", torch.float64).numpy()
    off_given = _off_land(lonlat[:, 0], lonlat[:, 1])
    if off_given < GIVEN_MIN_OFF_LAND:
        return False
    off_swapped = _off_land(lonlat[:, 1], lonlat[:, 0])
    if off_swapped > SWAPPED_MAX_OFF_LAND:
        return False
    warnings.warn(
        f"read as given, {off_given:.0%} of the points lie at sea or in Antarctica (coarse 0.5-degree land "
        f"mask), read the other way round only {off_swapped:.0%}: {source.swap_hint()} if so; if the points "
        "are legitimately at sea (ships, buoys, marine data), pass check_order=False to silence this warning",
        CoordinateWarning, stacklevel=stacklevel)
    return True
