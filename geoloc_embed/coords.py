"""Coordinate handling: the package's one convention and the conversions into and out of it.

Canonical coordinates are a float tensor of shape (N, 2) holding (longitude, latitude) in
**degrees**, longitude in [-180, 180] and latitude in [-90, 90]. :func:`to_canonical` is the single
entry point that turns user input (arrays, tensors, DataFrames, dicts, shapely/geopandas points,
projected coordinates with a CRS) into that form, validating it on the way; the other functions
are small, vectorised helpers on canonical coordinates (wrapping, radians, unit vectors,
great-circle distances, map projections, uniform sampling on the sphere).

Longitude wrapping rule (used everywhere in this module):

* :func:`wrap_longitude` maps any longitude into the half-open interval [-180, 180): values
  already in that interval are returned unchanged (bit for bit), +180 becomes -180 (the same
  meridian), 190 -> -170, -190 -> 170, 540 -> -180.
* ``to_canonical(..., wrap=True)`` leaves every longitude inside the closed canonical interval
  [-180, 180] untouched (so +180 stays +180) and wraps only the ones outside it with
  :func:`wrap_longitude`.

Importing this module is cheap: pandas, shapely, geopandas and pyproj are imported only by the
functions that need them, and only when the input calls for them.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Mapping
from typing import Any, Callable, List, Optional, Tuple, TypeVar, Union

import numpy as np
import torch
from torch import Tensor

from .errors import CoordinateError

__all__ = [
    "EARTH_RADIUS_KM",
    "CoordinateWarning",
    "normalize_order",
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

#: Mean Earth radius R1 = (2a + b) / 3 of WGS 84 (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088

ORDERS = ("lonlat", "latlon")
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")

#: Latitude of the polar circles, degrees (used by the swapped-order heuristic).
POLAR_CIRCLE_DEG = 66.56
#: Inputs whose every |value| is at most this (pi, rounded up for float32) look like radians.
RADIANS_LIMIT = 3.1416
#: Heuristic warnings need at least this many points.
HEURISTIC_MIN_POINTS = 10
#: Medians for the heuristics are taken on an evenly strided subsample of at most ~2x this size.
_HEURISTIC_SAMPLE = 65536

ArrayT = TypeVar("ArrayT", Tensor, np.ndarray)
Device = Union[str, torch.device, None]


class CoordinateWarning(UserWarning):
    """Coordinates that are valid but look wrong (swapped order, radians instead of degrees).

    Silence with ``check_order=False`` or ``warnings.filterwarnings("ignore", category=CoordinateWarning)``.
    """


# ----------------------------------------------------------------------------- small helpers
def normalize_order(order: str) -> str:
    """Validate a coordinate order and return it as ``"lonlat"`` or ``"latlon"`` (case-insensitive)."""
    if isinstance(order, str) and order.strip().lower() in ORDERS:
        return order.strip().lower()
    raise CoordinateError(
        f"order must be 'lonlat' (longitude first, like x, y) or 'latlon' (latitude first), got {order!r}")


def _np_to_tensor(arr: np.ndarray) -> Tensor:
    """torch.from_numpy that also accepts read-only, negative-stride and non-native-byte-order arrays."""
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    elif not arr.flags.writeable or any(st < 0 for st in arr.strides):
        arr = arr.copy()
    return torch.from_numpy(arr)


def _float_tensor(x: Any, what: str) -> Tuple[Tensor, Callable[[Tensor], Any]]:
    """(float tensor, function converting a result back to the caller's container type)."""
    if isinstance(x, Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise CoordinateError(f"{what} must be real numbers, got a tensor of dtype {x.dtype}")
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        return x, lambda t: t
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise CoordinateError(f"{what} must be real numbers, got an array of dtype {arr.dtype}")
    if arr.dtype.kind != "f" or arr.dtype.itemsize > 8:
        arr = arr.astype(np.float64)
    elif arr.dtype.itemsize < 4:
        arr = arr.astype(np.float32)
    if isinstance(x, np.ndarray) or arr.ndim > 0:
        return _np_to_tensor(arr), lambda t: t.numpy()
    return _np_to_tensor(arr), lambda t: float(t)


def _check_last_dim(t: Tensor, size: int, what: str) -> None:
    if t.ndim == 0 or t.shape[-1] != size:
        raise CoordinateError(f"{what} expects an array of shape (..., {size}), got shape {tuple(t.shape)}")


def _fmt(value: float, dtype: torch.dtype) -> str:
    """Shortest decimal text that identifies ``value`` in ``dtype`` ('95.0', '5200000.0', 'nan')."""
    scalar = np.float32(value) if dtype in (torch.float32, torch.float16, torch.bfloat16) else np.float64(value)
    return np.format_float_positional(scalar, trim="0")


# ----------------------------------------------------------------------------- wrapping, radians
def _wrap_tensor(lon: Tensor) -> Tensor:
    # lon - 360 k is exact for in-range values (k = 0); the two fix-ups absorb the rounding of
    # (lon + 180) / 360 right at the interval ends.
    out = torch.add(lon, 180.0).div_(360.0).floor_().mul_(-360.0).add_(lon)
    out = torch.where(out >= 180.0, out - 360.0, out)
    return torch.where(out < -180.0, out + 360.0, out)


def _wrap_keep_180(lon: Tensor) -> Tuple[Tensor, List[float]]:
    """to_canonical's wrap: values in [-180, 180] unchanged, others wrapped; also returns [min, max].

    Same numbers as ``where(|lon| > 180, _wrap_tensor(lon), lon)``, but it skips the rarely needed
    passes after checking on the host (faster on CPU for millions of points).
    """
    out = torch.add(lon, 180.0).div_(360.0).floor_().mul_(-360.0).add_(lon)
    lo, hi = torch.stack(torch.aminmax(out)).tolist()
    if hi >= 180.0 or lo < -180.0:
        out = torch.where(out >= 180.0, out - 360.0, out)
        out = torch.where(out < -180.0, out + 360.0, out)
    keep = lon == 180.0
    if bool(keep.any()):
        out = torch.where(keep, lon, out)
    lo, hi = torch.stack(torch.aminmax(out)).tolist()
    return out, [lo, hi]


def wrap_longitude(lon: Any) -> Any:
    """Wrap longitudes (degrees, any shape) into [-180, 180).

    Values already in [-180, 180) are returned unchanged; +180 maps to -180 (same meridian),
    190 -> -170, -190 -> 170, 540 -> -180. NaN stays NaN, +-inf become NaN.

    Returns the caller's type: tensor in, tensor out (differentiable, same device); ndarray or
    array-like in, ndarray out; Python scalar in, float out.
    """
    t, back = _float_tensor(lon, "longitudes")
    return back(_wrap_tensor(t))


def deg2rad(x: Any) -> Any:
    """Degrees to radians; tensor in -> tensor out, ndarray/array-like in -> ndarray out, scalar -> float."""
    t, back = _float_tensor(x, "angles")
    return back(torch.deg2rad(t))


def rad2deg(x: Any) -> Any:
    """Radians to degrees; tensor in -> tensor out, ndarray/array-like in -> ndarray out, scalar -> float."""
    t, back = _float_tensor(x, "angles")
    return back(torch.rad2deg(t))


# ----------------------------------------------------------------------------- sphere geometry
def lonlat_to_xyz(lonlat: Any) -> Any:
    """(..., 2) [lon, lat] degrees -> (..., 3) unit vectors (cos(lat) cos(lon), cos(lat) sin(lon), sin(lat)).

    x points to (0, 0), y to (90 E, 0), z to the North Pole. Same container type as the input;
    differentiable for tensors.
    """
    t, back = _float_tensor(lonlat, "lonlat")
    _check_last_dim(t, 2, "lonlat_to_xyz")
    lam = torch.deg2rad(t[..., 0])
    phi = torch.deg2rad(t[..., 1])
    cos_phi = torch.cos(phi)
    return back(torch.stack((cos_phi * torch.cos(lam), cos_phi * torch.sin(lam), torch.sin(phi)), dim=-1))


def xyz_to_lonlat(xyz: Any) -> Any:
    """(..., 3) vectors (any non-zero length) -> (..., 2) [lon, lat] degrees.

    Vectors need not be unit length (the direction is used). Longitude is in (-180, 180];
    at the poles (and for the zero vector, which has no direction and maps to (0, 0)) the
    longitude is 0.
    """
    t, back = _float_tensor(xyz, "xyz")
    _check_last_dim(t, 3, "xyz_to_lonlat")
    x, y, z = t.unbind(-1)
    rho = torch.hypot(x, y)
    r = torch.hypot(rho, z)
    lat = torch.rad2deg(torch.atan2(z, rho)).clamp(-90.0, 90.0)
    lon = torch.rad2deg(torch.atan2(y, x))
    polar = rho <= r * (4 * torch.finfo(t.dtype).eps)
    lon = torch.where(polar, torch.zeros_like(lon), lon)
    return back(torch.stack((lon, lat), dim=-1))


def haversine(a: Any, b: Any, radius: float = EARTH_RADIUS_KM) -> Any:
    """Great-circle distance between broadcastable (..., 2) [lon, lat] degree arrays -> (...,).

    In the unit of ``radius`` (default: mean Earth radius in km). Uses the atan2 form of the
    haversine formula, accurate for identical, nearly identical and antipodal points. A tensor
    in either argument gives a tensor (on ``a``'s device if it is one); otherwise an ndarray.
    """
    ta, back_a = _float_tensor(a, "a")
    tb, back_b = _float_tensor(b, "b")
    _check_last_dim(ta, 2, "haversine")
    _check_last_dim(tb, 2, "haversine")
    back = back_a if isinstance(a, Tensor) or not isinstance(b, Tensor) else back_b
    device = ta.device if isinstance(a, Tensor) or not isinstance(b, Tensor) else tb.device
    dtype = torch.promote_types(ta.dtype, tb.dtype)
    ta = ta.to(device=device, dtype=dtype)
    tb = tb.to(device=device, dtype=dtype)
    lam1, phi1 = torch.deg2rad(ta[..., 0]), torch.deg2rad(ta[..., 1])
    lam2, phi2 = torch.deg2rad(tb[..., 0]), torch.deg2rad(tb[..., 1])
    h = torch.sin((phi2 - phi1) / 2) ** 2 + torch.cos(phi1) * torch.cos(phi2) * torch.sin((lam2 - lam1) / 2) ** 2
    h = h.clamp(0.0, 1.0)
    return back(2.0 * radius * torch.atan2(torch.sqrt(h), torch.sqrt(1.0 - h)))


def antipode(lonlat: Any) -> Any:
    """(..., 2) [lon, lat] degrees -> the antipodal points (lon +- 180, -lat), lon in [-180, 180].

    Exact (no rounding): lon > 0 maps to lon - 180, lon <= 0 to lon + 180. Same container type
    as the input.
    """
    t, back = _float_tensor(lonlat, "lonlat")
    _check_last_dim(t, 2, "antipode")
    lon, lat = t[..., 0], t[..., 1]
    return back(torch.stack((torch.where(lon > 0, lon - 180.0, lon + 180.0), -lat), dim=-1))


def sample_uniform_sphere(
    n: int,
    *,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float32,
    device: Device = None,
) -> Tensor:
    """``n`` points uniform on the sphere (uniform per unit area) -> (n, 2) [lon, lat] degrees.

    lon = 360 u - 180 in [-180, 180), lat = asin(2 v - 1) in [-90, 90], with u, v ~ U[0, 1)
    drawn (in float64) from ``generator``; the same seeded generator gives the same points. The
    draw happens on the generator's device, the result is returned on ``device`` (default: that
    device) in ``dtype``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating torch dtype such as torch.float32, got {dtype!r}")
    draw_device = generator.device if generator is not None else (device if device is not None else "cpu")
    uv = torch.rand((int(n), 2), generator=generator, dtype=torch.float64, device=draw_device)
    lon = uv[:, 0] * 360.0 - 180.0
    lat = torch.rad2deg(torch.asin((2.0 * uv[:, 1] - 1.0).clamp(-1.0, 1.0)))
    out = torch.stack((lon, lat), dim=-1)
    return out.to(dtype=dtype, device=device if device is not None else draw_device)


# ----------------------------------------------------------------------------- projections
_TRANSFORMERS = threading.local()


def _transformer(src: Any, dst: Any) -> Any:
    """pyproj Transformer src -> dst (always_xy), cached per thread for str/int CRS inputs."""
    from pyproj import Transformer
    from pyproj.exceptions import CRSError

    key = (src, dst) if isinstance(src, (str, int)) and isinstance(dst, (str, int)) else None
    cache = getattr(_TRANSFORMERS, "cache", None)
    if cache is None:
        cache = _TRANSFORMERS.cache = {}
    if key is not None and key in cache:
        return cache[key]
    try:
        tr = Transformer.from_crs(src, dst, always_xy=True)
    except CRSError as exc:
        raise CoordinateError(
            f"cannot build a transformation from {src!r} to {dst!r}: {exc}; pass a CRS pyproj "
            "understands, e.g. 'EPSG:3857', an EPSG code as an int, a PROJ string or a pyproj.CRS") from exc
    if key is not None:
        if len(cache) > 32:
            cache.clear()
        cache[key] = tr
    return tr


def _first_bad_row(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def _transform_columns(tr: Any, x: np.ndarray, y: np.ndarray, what: str, crs: Any) -> np.ndarray:
    xo, yo = tr.transform(x, y)
    out = np.column_stack((np.asarray(xo, dtype=np.float64), np.asarray(yo, dtype=np.float64)))
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        i = _first_bad_row(bad)
        raise CoordinateError(
            f"{what} at row {i} ({float(x[i])!r}, {float(y[i])!r}) cannot be transformed with CRS {crs!r} (outside the "
            "projection's domain); drop such points or choose a CRS that covers them")
    return out


def project(lonlat: Any, crs: Any = "EPSG:8857") -> np.ndarray:
    """(N, 2) or (2,) [lon, lat] degrees (WGS 84) -> (N, 2) float64 ndarray of projected [x, y].

    ``crs`` is anything pyproj accepts (default EPSG:8857, WGS 84 / Equal Earth Greenwich, in
    metres); x is easting and y northing whatever the CRS's axis order. The input is validated
    like ``to_canonical(lonlat, "lonlat")``. pyproj is imported on first use.
    """
    ll = to_canonical(lonlat, "lonlat", dtype=torch.float64, device="cpu", check_order=False).numpy()
    if ll.shape[0] == 0:
        return np.empty((0, 2), dtype=np.float64)
    return _transform_columns(_transformer("EPSG:4326", crs), ll[:, 0], ll[:, 1], "point (lon, lat)", crs)


def unproject(xy: Any, crs: Any = "EPSG:8857") -> np.ndarray:
    """(N, 2) or (2,) projected [x, y] in ``crs`` -> (N, 2) float64 ndarray of [lon, lat] degrees (WGS 84).

    The inverse of :func:`project` (x is easting, y northing).
    """
    x, y, _ = _positional_columns(xy, "lonlat")
    x = x.detach().to("cpu", torch.float64).numpy()
    y = y.detach().to("cpu", torch.float64).numpy()
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.all():
        i = _first_bad_row(~finite)
        raise CoordinateError(
            f"non-finite projected coordinate at row {i} ({float(x[i])!r}, {float(y[i])!r}); drop or fill it first")
    if x.shape[0] == 0:
        return np.empty((0, 2), dtype=np.float64)
    return _transform_columns(_transformer(crs, "EPSG:4326"), x, y, "point (x, y)", crs)


def equal_earth(lonlat: Any) -> np.ndarray:
    """(N, 2) [lon, lat] degrees -> (N, 2) Equal Earth (EPSG:8857) [x, y] metres; see :func:`project`."""
    return project(lonlat, "EPSG:8857")


# ----------------------------------------------------------------------------- to_canonical
class _Source:
    """Where the two columns came from, for error messages that say what to change."""

    def __init__(self, kind: str, order: str = "lonlat", lon_name: Any = None, lat_name: Any = None):
        self.kind = kind  # "positional", "columns" or "points"
        self.order = order
        self.lon_name = lon_name
        self.lat_name = lat_name
        self.matrix: Optional[Tensor] = None  # the (N, 2) input in the user's order, when positional

    def row(self, i: int, lon: float, lat: float, dtype: torch.dtype) -> str:
        lo, la = _fmt(lon, dtype), _fmt(lat, dtype)
        if self.kind == "columns":
            return f"row {i} ({self.lon_name!r}={lo}, {self.lat_name!r}={la})"
        if self.kind == "points":
            return f"point {i} (x={lo}, y={la})"
        return f"row {i} [{la}, {lo}]" if self.order == "latlon" else f"row {i} [{lo}, {la}]"

    def swap_hint(self) -> str:
        if self.kind == "columns":
            return (f"the columns look swapped: pass lon_col={self.lat_name!r}, lat_col={self.lon_name!r}")
        if self.kind == "points":
            return "the points look like Point(lat, lon): build them as Point(lon, lat) (x = longitude)"
        if self.order == "lonlat":
            return "the coordinates look like (lat, lon): pass order='latlon'"
        return "the coordinates look like (lon, lat): pass order='lonlat'"


def _working_dtype_np(arr: np.ndarray, what: str) -> np.ndarray:
    kind = arr.dtype.kind
    if kind == "b":
        raise CoordinateError(
            f"{what} are booleans; coordinates must be numbers (degrees). Pass numeric longitudes/latitudes")
    if kind in "iu":
        return arr.astype(np.float64)
    if kind == "f":
        if arr.dtype.itemsize < 4:
            return arr.astype(np.float32)
        if arr.dtype.itemsize > 8:
            return arr.astype(np.float64)
        return arr
    if kind == "c":
        raise CoordinateError(f"{what} are complex numbers (dtype {arr.dtype}); pass real degrees")
    raise CoordinateError(
        f"{what} must be numeric, got dtype {arr.dtype} (strings, None or other Python objects); clean the "
        "data and convert it with np.asarray(coords, dtype=float) first")


def _working_dtype_t(t: Tensor, what: str) -> Tensor:
    if t.dtype == torch.bool:
        raise CoordinateError(
            f"{what} are booleans; coordinates must be numbers (degrees). Pass numeric longitudes/latitudes")
    if t.is_complex():
        raise CoordinateError(f"{what} are complex numbers (dtype {t.dtype}); pass real degrees")
    if not t.is_floating_point():
        return t.to(torch.float64)
    if t.element_size() < 4:
        return t.to(torch.float32)
    return t


def _rows_of_two(t: Tensor) -> Tensor:
    shape = tuple(t.shape)
    if t.ndim == 1 and shape[0] == 2:
        return t.reshape(1, 2)
    if t.ndim == 1 and shape[0] == 0:
        return t.reshape(0, 2)
    if t.ndim == 2 and shape[1] == 2:
        return t
    hint = ""
    if t.ndim == 2 and shape[0] == 2:
        hint = "; if each column is one point (shape (2, N)), pass coords.T"
    elif t.ndim == 2 and shape[1] > 2:
        hint = "; if the extra columns are altitude, time or other data, pass coords[:, :2]"
    elif t.ndim == 1:
        hint = "; if it is a flat [lon0, lat0, lon1, lat1, ...] array, pass coords.reshape(-1, 2)"
    raise CoordinateError(
        f"coordinates must have shape (N, 2) (one [lon, lat] or [lat, lon] row per point) or (2,) for a "
        f"single point, got shape {shape}{hint}")


def _positional_columns(coords: Any, order: str) -> Tuple[Tensor, Tensor, _Source]:
    """Array-like / tensor -> (lon, lat) 1-D tensors in a float working dtype."""
    if isinstance(coords, Tensor):
        t = _working_dtype_t(coords, "coordinates")
    else:
        if isinstance(coords, (list, tuple)) and coords and all(isinstance(c, Tensor) for c in coords):
            try:
                t = torch.stack(list(coords))
            except RuntimeError as exc:
                raise CoordinateError(f"cannot stack the list of tensors into (N, 2) coordinates: {exc}") from exc
            t = _working_dtype_t(t, "coordinates")
        else:
            try:
                arr = np.asarray(coords)
            except (ValueError, TypeError) as exc:
                raise CoordinateError(
                    f"cannot read the coordinates as an (N, 2) array ({exc}); pass a rectangular list, "
                    "array or tensor with one [lon, lat] row per point") from exc
            t = _np_to_tensor(_working_dtype_np(arr, "coordinates"))
    t = _rows_of_two(t)
    source = _Source("positional", order)
    source.matrix = t
    if order == "latlon":
        return t[:, 1], t[:, 0], source
    return t[:, 0], t[:, 1], source


def _column_values(col: Any, name: Any) -> Tensor:
    what = f"column {name!r}"
    if isinstance(col, Tensor):
        t = _working_dtype_t(col, what)
    else:
        kind = getattr(getattr(col, "dtype", None), "kind", None)
        arr = None
        if kind in ("i", "u", "f") and hasattr(col, "to_numpy"):
            try:  # pandas, including nullable Int64/Float64 columns: missing values become NaN
                arr = col.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                arr = None
        if arr is None:
            try:
                arr = np.asarray(col)
            except (ValueError, TypeError) as exc:
                raise CoordinateError(f"cannot read {what} as numbers: {exc}") from exc
        t = _np_to_tensor(_working_dtype_np(arr, what))
    if t.ndim != 1:
        raise CoordinateError(f"{what} must be one-dimensional (one value per point), got shape {tuple(t.shape)}")
    return t


def _find_column(columns: List[Any], names: Tuple[str, ...], what: str, arg: str) -> Any:
    hits = [c for c in columns if isinstance(c, str) and c.strip().lower() in names]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise CoordinateError(
            f"no {what} column found among {columns!r} (looked for {', '.join(names)}, case-insensitive); "
            f"pass {arg}='<column name>' (or pass a plain (N, 2) array with order='lonlat' or 'latlon')")
    raise CoordinateError(f"ambiguous {what} columns {hits!r}; pick one with {arg}='<column name>'")


def _named_columns(obj: Any, columns: List[Any], lon_col: Any, lat_col: Any) -> Tuple[Tensor, Tensor, _Source]:
    for arg, value in (("lon_col", lon_col), ("lat_col", lat_col)):
        if value is not None and value not in columns:
            raise CoordinateError(f"{arg}={value!r} is not a column; available columns: {columns!r}")
    lon_name = lon_col if lon_col is not None else _find_column(columns, LON_NAMES, "longitude", "lon_col")
    lat_name = lat_col if lat_col is not None else _find_column(columns, LAT_NAMES, "latitude", "lat_col")
    if lon_name == lat_name:
        raise CoordinateError(f"lon_col and lat_col both name column {lon_name!r}; pass two different columns")
    lon = _column_values(obj[lon_name], lon_name)
    lat = _column_values(obj[lat_name], lat_name)
    if lon.shape[0] != lat.shape[0]:
        raise CoordinateError(
            f"columns {lon_name!r} and {lat_name!r} have different lengths ({lon.shape[0]} and {lat.shape[0]})")
    if lat.device != lon.device:
        lat = lat.to(lon.device)
    dtype = torch.promote_types(lon.dtype, lat.dtype)
    return lon.to(dtype), lat.to(dtype), _Source("columns", lon_name=lon_name, lat_name=lat_name)


def _point_columns(geoms: Any) -> Tuple[Tensor, Tensor, _Source]:
    """shapely Point(s) -> (x, y) float64 tensors."""
    import shapely

    arr = np.asarray(geoms, dtype=object)
    if arr.ndim > 1:
        raise CoordinateError(f"expected a 1-D sequence of shapely Points, got an array of shape {arr.shape}")
    arr = arr.reshape(-1)
    try:
        type_id = shapely.get_type_id(arr)
    except TypeError as exc:
        raise CoordinateError(
            "a sequence of shapely geometries contains something that is not a geometry; pass only "
            "Points, or a plain (N, 2) array") from exc
    bad = type_id != 0
    if bad.any():
        i = _first_bad_row(bad)
        name = "None/missing" if type_id[i] < 0 else arr[i].geom_type
        raise CoordinateError(
            f"point {i} is {name}, not a Point; convert geometries with .centroid or .representative_point() "
            "(or drop missing ones) first")
    empty = shapely.is_empty(arr)
    if empty.any():
        raise CoordinateError(f"point {_first_bad_row(empty)} is an empty Point; drop empty geometries first")
    x = torch.from_numpy(np.ascontiguousarray(shapely.get_x(arr), dtype=np.float64))
    y = torch.from_numpy(np.ascontiguousarray(shapely.get_y(arr), dtype=np.float64))
    return x, y, _Source("points")


def _is_geometry(obj: Any) -> bool:
    return hasattr(obj, "geom_type") and not isinstance(obj, (Tensor, np.ndarray))


def _frame_columns(obj: Any) -> Optional[List[Any]]:
    """Column names of a DataFrame-like object, dict or structured array; None for plain arrays."""
    if isinstance(obj, Tensor):
        return None
    if isinstance(obj, np.ndarray):
        return list(obj.dtype.names) if obj.dtype.names else None
    if isinstance(obj, Mapping):
        return list(obj.keys())
    columns = getattr(obj, "columns", None)
    if columns is not None and hasattr(obj, "__getitem__") and not callable(columns):
        return list(columns)
    return None


def _is_wgs84(crs: Any) -> bool:
    if isinstance(crs, (int, np.integer)) and not isinstance(crs, bool) and int(crs) == 4326:
        return True
    if isinstance(crs, str) and crs.strip().upper() in ("EPSG:4326", "OGC:CRS84"):
        return True
    return _crs(crs).equals("EPSG:4326", ignore_axis_order=True)


def _crs(crs: Any) -> Any:
    """pyproj.CRS from any user input, with a CoordinateError saying what to pass instead."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise CoordinateError(
            f"crs={crs!r} is not a coordinate reference system pyproj understands ({exc}); pass e.g. "
            "'EPSG:3857', an EPSG code as an int, a PROJ string or a pyproj.CRS") from exc


def _same_crs(a: Any, b: Any) -> bool:
    return _crs(a) == _crs(b)


def _extract(coords: Any, order: str, lon_col: Any, lat_col: Any) -> Tuple[Tensor, Tensor, _Source, Any]:
    """Any supported input -> (lon, lat, source, the object's own CRS or None)."""
    columns = _frame_columns(coords)
    if lon_col is not None or lat_col is not None:
        if columns is None:
            raise CoordinateError(
                "lon_col/lat_col only apply to DataFrames, dicts of arrays and structured arrays; for a plain "
                "(N, 2) array pass order='lonlat' or order='latlon' instead")
        # plain columns carry no CRS of their own (a GeoDataFrame's .crs describes its geometry)
        return (*_named_columns(coords, columns, lon_col, lat_col), None)
    if not isinstance(coords, (Tensor, np.ndarray, Mapping)):
        # geopandas GeoSeries / GeoDataFrame (duck-typed: geopandas may not be installed)
        if hasattr(coords, "crs") and hasattr(coords, "geometry"):
            return (*_point_columns(coords.geometry), coords.crs)
        if _is_geometry(coords):
            return (*_point_columns([coords]), None)
    if columns is not None:
        return (*_named_columns(coords, columns, None, None), None)
    if isinstance(coords, (list, tuple)) and coords and _is_geometry(coords[0]):
        return (*_point_columns(coords), None)
    if not isinstance(coords, Tensor):
        dtype = getattr(coords, "dtype", None)
        if getattr(dtype, "kind", None) == "O":  # object ndarray / pandas Series of shapely points
            arr = np.asarray(coords, dtype=object)
            if arr.size and _is_geometry(arr.flat[0]):
                return (*_point_columns(arr), None)
    return (*_positional_columns(coords, order), None)


def _reproject(lon: Tensor, lat: Tensor, crs: Any) -> Tuple[Tensor, Tensor]:
    tr = _transformer(crs, "EPSG:4326")
    x = lon.detach().to("cpu", torch.float64).numpy()
    y = lat.detach().to("cpu", torch.float64).numpy()
    out = _transform_columns(tr, x, y, "point (x, y)", crs)
    t = torch.from_numpy(out).to(lon.device)
    return t[:, 0], t[:, 1]


def _check_finite(lon: Tensor, lat: Tensor, stats: List[float], source: _Source, dtype: torch.dtype) -> None:
    if all(math.isfinite(v) for v in stats):
        return
    bad = ~(torch.isfinite(lon) & torch.isfinite(lat))
    i = int(torch.argmax(bad.to(torch.uint8)))
    raise CoordinateError(
        f"non-finite coordinate (NaN or inf) at {source.row(i, float(lon[i]), float(lat[i]), dtype)}; drop or "
        "fill missing values first, e.g. df.dropna(subset=[lon, lat]) or x[np.isfinite(x).all(axis=1)]")


def _minmax(lon: Tensor, lat: Tensor, matrix: Optional[Tensor] = None, order: str = "lonlat") -> List[float]:
    """[lon min, lon max, lat min, lat max] in one host sync (NaN if any value is NaN)."""
    if matrix is not None:  # one pass over the (N, 2) block is much faster than two strided ones
        lo, hi = torch.aminmax(matrix, dim=0)
        i, j = (1, 0) if order == "latlon" else (0, 1)
        return torch.stack((lo[i], hi[i], lo[j], hi[j])).tolist()
    lon_lo, lon_hi = torch.aminmax(lon)
    lat_lo, lat_hi = torch.aminmax(lat)
    return torch.stack((lon_lo, lon_hi, lat_lo, lat_hi)).tolist()


def _check_ranges(lon: Tensor, lat: Tensor, stats: List[float], source: _Source, dtype: torch.dtype,
                  wrap: bool, projected_hint: bool) -> None:
    lon_lo, lon_hi, lat_lo, lat_hi = stats
    max_abs_lon = max(-lon_lo, lon_hi)
    if max(-lat_lo, lat_hi) > 90.0:
        i = int(torch.argmax((lat.abs() > 90.0).to(torch.uint8)))
        where = source.row(i, float(lon[i]), float(lat[i]), dtype)
        msg = f"latitude {_fmt(float(lat[i]), dtype)} at {where} is outside [-90, 90]; "
        if max_abs_lon <= 90.0:
            msg += source.swap_hint()
        elif projected_hint and max(max_abs_lon, -lat_lo, lat_hi) > 360.0:
            msg += ("values this large look like projected coordinates (e.g. metres): pass crs='EPSG:<code>' "
                    "to reproject them")
        else:
            msg += "latitudes must be degrees within [-90, 90]; drop or fix the rows that are not"
        raise CoordinateError(msg)
    if not wrap and max_abs_lon > 180.0:
        i = int(torch.argmax((lon.abs() > 180.0).to(torch.uint8)))
        where = source.row(i, float(lon[i]), float(lat[i]), dtype)
        msg = f"longitude {_fmt(float(lon[i]), dtype)} at {where} is outside [-180, 180]; "
        if projected_hint and max_abs_lon > 720.0:
            msg += ("values this large look like projected coordinates (e.g. metres): pass crs='EPSG:<code>' "
                    "to reproject them, or ")
        msg += "pass wrap=True to wrap longitudes into [-180, 180) (e.g. for 0..360 data)"
        raise CoordinateError(msg)


def _heuristic_warnings(lon: Tensor, lat: Tensor, stats: List[float], source: _Source) -> None:
    n = lon.shape[0]
    if n < HEURISTIC_MIN_POINTS:
        return
    lon_lo, lon_hi, lat_lo, lat_hi = stats
    max_abs = max(-lon_lo, lon_hi, -lat_lo, lat_hi)
    if 0.0 < max_abs <= RADIANS_LIMIT:
        warnings.warn(
            f"all {n} coordinates are within +-pi (largest |value| {max_abs:.6g}): they look like radians, "
            "but degrees are expected; convert with geoloc_embed.coords.rad2deg(coords), or pass "
            "check_order=False if they really are degrees", CoordinateWarning, stacklevel=3)
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
        "or pass check_order=False to silence this warning", CoordinateWarning, stacklevel=3)


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
        CoordinateError: wrong shape or type, NaN/inf (naming the first bad row, 0-based),
            |lat| > 90 (saying when the columns look swapped), lon outside [-180, 180] without
            ``wrap``, unusable columns or geometries, an unknown CRS.

    Heuristic warnings (``check_order=True``, N >= 10):
        * radians: every |value| <= 3.1416 and not all zero;
        * swapped order: both readings are valid (every |value| <= 90), most points (median |lat|)
          lie beyond the polar circles (66.56 deg) while the median |lon| is below that, and the
          region is taller than wide (lon extent * cos(median lat) < lat extent). That is what
          mid-latitude (lat, lon) data read as (lon, lat) looks like (e.g. eastern North America
          lands in Antarctica); global data (|lon| > 90 somewhere) and non-polar regional data
          never trigger it.
    """
    order = normalize_order(order)
    if not isinstance(wrap, bool):
        raise CoordinateError(f"wrap must be True or False, got {wrap!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise CoordinateError(f"dtype must be a floating torch dtype such as torch.float32, got {dtype!r}")
    lon, lat, source, obj_crs = _extract(coords, order, lon_col, lat_col)
    if crs is not None and obj_crs is not None and not _same_crs(crs, obj_crs):
        raise CoordinateError(
            f"crs={crs!r} conflicts with the input's own CRS {obj_crs!r}; drop crs= or reproject the data "
            "with .to_crs() first")
    src_crs = crs if crs is not None else obj_crs
    out_device = torch.device(device) if device is not None else lon.device
    n = lon.shape[0]
    if n == 0:
        return torch.empty((0, 2), dtype=dtype, device=out_device)

    work = lon.dtype
    stats = _minmax(lon, lat, source.matrix, source.order)
    _check_finite(lon, lat, stats, source, work)
    reprojected = src_crs is not None and not _is_wgs84(src_crs)
    if reprojected:
        lon, lat = _reproject(lon, lat, src_crs)
        work = torch.float64
        stats = _minmax(lon, lat)
    _check_ranges(lon, lat, stats, source, work, wrap, projected_hint=src_crs is None)
    wrapped = wrap and max(-stats[0], stats[1]) > 180.0
    if wrapped:
        lon, stats[:2] = _wrap_keep_180(lon)
    if check_order and not reprojected:
        _heuristic_warnings(lon, lat, stats, source)

    if source.matrix is not None and source.order == "lonlat" and not (wrapped or reprojected):
        return source.matrix.to(dtype=dtype, device=out_device, copy=True)
    out = torch.empty((n, 2), dtype=dtype, device=out_device)
    out[:, 0].copy_(lon)
    out[:, 1].copy_(lat)
    return out
