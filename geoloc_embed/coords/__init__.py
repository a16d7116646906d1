"""Coordinate handling: the package's one convention and the conversions into and out of it.

Canonical coordinates are a float tensor of shape (N, 2) holding (longitude, latitude) in
**degrees**, longitude in [-180, 180] and latitude in [-90, 90]. :func:`to_canonical` is the single
entry point that turns user input (arrays, tensors, DataFrames, dicts, shapely/geopandas points,
projected coordinates with a CRS) into that form, validating it on the way; the other functions
are small, vectorised helpers on canonical coordinates (wrapping, radians, unit vectors,
great-circle distances, map projections, uniform sampling on the sphere).

Modules, one concept each:

* :mod:`.canonical`: :func:`to_canonical`;
* :mod:`.inputs`: reading arrays, columns and geometries (:func:`normalize_order`,
  :func:`find_lonlat_columns`);
* :mod:`.checks`: hard validation (finite values, ranges) with errors that name the row and the fix;
* :mod:`.heuristics`: :class:`CoordinateWarning` for radians and swapped orders;
* :mod:`.sphere`: wrapping, degrees/radians, xyz, haversine, antipode and **the** uniform sampler;
* :mod:`.projection` and :mod:`.crs`: pyproj projections and reprojection.

Longitude wrapping rule (used everywhere in this package):

* :func:`wrap_longitude` maps any longitude into the half-open interval [-180, 180): values
  already in that interval are returned unchanged (bit for bit), +180 becomes -180 (the same
  meridian), 190 -> -170, -190 -> 170, 540 -> -180.
* ``to_canonical(..., wrap=True)`` leaves every longitude inside the closed canonical interval
  [-180, 180] untouched (so +180 stays +180) and wraps only the ones outside it with
  :func:`wrap_longitude`.

Importing this package is cheap: pandas, shapely, geopandas and pyproj are imported only by the
functions that need them, and only when the input calls for them.
"""

from __future__ import annotations

from .canonical import to_canonical
from .heuristics import HEURISTIC_MIN_POINTS as HEURISTIC_MIN_POINTS
from .heuristics import POLAR_CIRCLE_DEG as POLAR_CIRCLE_DEG
from .heuristics import RADIANS_LIMIT as RADIANS_LIMIT
from .heuristics import CoordinateWarning
from .inputs import LAT_NAMES as LAT_NAMES
from .inputs import LON_NAMES as LON_NAMES
from .inputs import ORDERS as ORDERS
from .inputs import find_lonlat_columns, normalize_order
from .projection import equal_earth, project, unproject
from .sphere import (
    EARTH_RADIUS_KM,
    antipode,
    deg2rad,
    haversine,
    lonlat_to_xyz,
    rad2deg,
    sample_uniform_sphere,
    wrap_longitude,
    xyz_to_lonlat,
)

__all__ = [
    "EARTH_RADIUS_KM",
    "CoordinateWarning",
    "normalize_order",
    "find_lonlat_columns",
    "to_canonical",
    "wrap_longitude",
    "deg2rad",
    "rad2deg",
    "lonlat_to_xyz",
    "xyz_to_lonlat",
    "haversine",
    "project",
    "unproject",
    "equal_earth",
    "sample_uniform_sphere",
    "antipode",
]
