"""``to_canonical``: the single entry point from user coordinates to the package's convention.

Canonical coordinates are a float tensor of shape (N, 2) holding (longitude, latitude) in
**degrees**, longitude in [-180, 180] and latitude in [-90, 90].
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..errors import CoordinateError
from ._tensors import Device
from .checks import check_finite, check_ranges, minmax
from .crs import crs_name, is_wgs84, reproject, same_crs
from .heuristics import heuristic_warnings
from .inputs import extract, normalize_order
from .sphere import wrap_keep_180

__all__ = ["to_canonical"]


def to_canonical(
    coords: Any,
    order: str = "lonlat",
    *,
    wrap: bool = False,
    dtype: torch.dtype = torch.float32,
    device: Device = None,
    lon_col: Any = None,
    lat_col: Any = None,
    crs: Any = None,
    check_order: bool = True,
) -> Tensor:
    """Validate coordinates and return them as a canonical (N, 2) [lon, lat] degree tensor.

    Args:
        coords: one of
            * an (N, 2) or (2,) list/tuple, ndarray or tensor in ``order`` (integers are converted,
              float16 is upcast, bool/strings/objects are rejected; [] or (0, 2) gives (0, 2));
            * a pandas DataFrame, a dict of 1-D arrays or a structured array with named columns,
              found case-insensitively (lon/lng/long/longitude/x and lat/latitude/y) or given by
              ``lon_col``/``lat_col``;
            * a shapely Point, a sequence/array/Series of Points (x = lon, y = lat), or a geopandas
              GeoSeries/GeoDataFrame of Points (its ``.crs`` is honoured).
        order: "lonlat" or "latlon"; applies to positional input only (columns and points are named).
        wrap: wrap longitudes outside [-180, 180] into [-180, 180) instead of raising; longitudes
            inside [-180, 180] are left untouched (so +180 stays +180).
        dtype: floating dtype of the result.
        device: device of the result; default: the input tensor's device, else CPU.
        lon_col, lat_col: column names for DataFrame/dict input.
        crs: CRS of the input (anything pyproj accepts). When it (or a GeoSeries' ``.crs``) is not
            EPSG:4326 the points, read as (x, y) = (easting, northing) in ``order``, are reprojected
            to WGS 84 lon/lat with pyproj.
        check_order: emit heuristic :class:`CoordinateWarning` s (see below); False silences them.
            Hard errors (e.g. |lat| > 90) are raised either way.

    Returns:
        (N, 2) tensor of [lon, lat] degrees, a new tensor (never a view of the input).

    Raises:
        CoordinateError: wrong shape or type (iterators and sets are named, with a fix), meta
            tensors, NaN/inf (naming the first bad row, 0-based), |lat| > 90 (a swap is suggested only
            when the data look swapped; an overshoot of at most 1e-5 degrees is called rounding, with
            a clipping hint), lon outside [-180, 180] without ``wrap``, with ``wrap`` a longitude too
            large for its dtype to place (|lon| > 2**24 in float32, 2**53 in float64), unusable
            columns or geometries, an unknown CRS.

    Heuristic warnings (``check_order=True``, N >= 10), see :mod:`geoloc_embed.coords.heuristics`:
        * radians: every |value| <= 3.1416 and not all zero;
        * swapped order, only when both readings are valid (every |value| <= 90):
          - land mask: read as given at least 20 % of the points lie at sea or in Antarctica by the
            shipped 0.5-degree land mask, swapped at most 5 %. (lat, lon) city lists of Europe,
            Africa or Brazil passed as lonlat are caught; uniform global and open-ocean points are
            not. Sea data whose mirror image is land (e.g. the Black Sea) can trigger it: pass
            ``check_order=False`` for data legitimately at sea;
          - polar: most points (median |lat|) lie beyond the polar circles (66.56 deg) while the
            median |lon| is below that, and the region is taller than wide (lon extent *
            cos(median lat) < lat extent): mid-latitude (lat, lon) data read as (lon, lat), e.g.
            eastern North America landing in Antarctica.
    """
    order = normalize_order(order)
    if not isinstance(wrap, bool):
        raise CoordinateError(f"wrap must be True or False, got {wrap!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise CoordinateError(f"dtype must be a floating torch dtype such as torch.float32, got {dtype!r}")
    lon, lat, source, obj_crs = extract(coords, order, lon_col, lat_col)
    if crs is not None and obj_crs is not None and not same_crs(crs, obj_crs):
        raise CoordinateError(
            f"crs={crs!r} conflicts with the input's own CRS {crs_name(obj_crs)}; drop crs= or reproject the data "
            "with .to_crs() first")
    src_crs = crs if crs is not None else obj_crs
    out_device = torch.device(device) if device is not None else lon.device
    n = lon.shape[0]
    if n == 0:
        return torch.empty((0, 2), dtype=dtype, device=out_device)

    work = lon.dtype
    stats = minmax(lon, lat, source.matrix, source.order)
    check_finite(lon, lat, stats, source, work)
    reprojected = src_crs is not None and not is_wgs84(src_crs)
    if reprojected:
        lon, lat = reproject(lon, lat, src_crs)
        work = torch.float64
        stats = minmax(lon, lat)
    check_ranges(lon, lat, stats, source, work, wrap, projected_hint=src_crs is None)
    wrapped = wrap and max(-stats[0], stats[1]) > 180.0
    if wrapped:
        lon, stats[:2] = wrap_keep_180(lon)
    if check_order and not reprojected:
        heuristic_warnings(lon, lat, stats, source)

    if source.matrix is not None and source.order == "lonlat" and not (wrapped or reprojected):
        return source.matrix.to(dtype=dtype, device=out_device, copy=True)
    out = torch.empty((n, 2), dtype=dtype, device=out_device)
    out[:, 0].copy_(lon)
    out[:, 1].copy_(lat)
    return out
