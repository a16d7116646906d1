"""Reading user input: arrays, tensors, DataFrames, dicts, structured arrays, shapely/geopandas points.

:func:`extract` turns any supported input into two 1-D float tensors (longitude, latitude) in the
input's own units, plus a :class:`Source` that remembers where they came from so that error
messages can say exactly what to change (``order='latlon'``, ``lon_col=...``, ``Point(lon, lat)``).
Validation of the values is :mod:`.checks`' job. shapely is imported only for geometry input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..errors import CoordinateError
from ._tensors import first_true, fmt, np_to_tensor

__all__ = ["ORDERS", "LON_NAMES", "LAT_NAMES", "normalize_order", "find_lonlat_columns", "Source", "extract",
           "positional_columns"]

ORDERS = ("lonlat", "latlon")
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")


def normalize_order(order: str) -> str:
    """Validate a coordinate order and return it as ``"lonlat"`` or ``"latlon"`` (case-insensitive)."""
    if isinstance(order, str) and order.strip().lower() in ORDERS:
        return order.strip().lower()
    raise CoordinateError(
        f"order must be 'lonlat' (longitude first, like x, y) or 'latlon' (latitude first), got {order!r}")


class Source:
    """Where the two columns came from, for error messages that say what to change."""

    def __init__(self, kind: str, order: str = "lonlat", lon_name: Any = None, lat_name: Any = None):
        self.kind = kind  # "positional", "columns" or "points"
        self.order = order
        self.lon_name = lon_name
        self.lat_name = lat_name
        self.matrix: Optional[Tensor] = None  # the (N, 2) input in the user's order, when positional

    def row(self, i: int, lon: float, lat: float, dtype: torch.dtype) -> str:
        lo, la = fmt(lon, dtype), fmt(lat, dtype)
        if self.kind == "columns":
            return f"row {i} ({self.lon_name!r}={lo}, {self.lat_name!r}={la})"
        if self.kind == "points":
            return f"point {i} (x={lo}, y={la})"
        return f"row {i} [{la}, {lo}]" if self.order == "latlon" else f"row {i} [{lo}, {la}]"

    def swap_hint(self) -> str:
        if self.kind == "columns":
            return f"the columns look swapped: pass lon_col={self.lat_name!r}, lat_col={self.lon_name!r}"
        if self.kind == "points":
            return "the points look like Point(lat, lon): build them as Point(lon, lat) (x = longitude)"
        if self.order == "lonlat":
            return "the coordinates look like (lat, lon): pass order='latlon'"
        return "the coordinates look like (lon, lat): pass order='lonlat'"

    def clip_hint(self) -> str:
        if self.kind == "columns":
            return f"clip them first, e.g. df[{self.lat_name!r}] = df[{self.lat_name!r}].clip(-90, 90)"
        if self.kind == "points":
            return "clip the y coordinates into [-90, 90] when building the Points"
        col = 0 if self.order == "latlon" else 1
        return (f"clip them first, e.g. coords[:, {col}] = np.clip(coords[:, {col}], -90, 90) "
                f"(tensors: coords[:, {col}].clamp_(-90, 90))")


# ----------------------------------------------------------------------------- dtypes and shapes
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
        "data and convert it to numbers first, e.g. np.asarray(values, dtype=float)")


def _as_array(values: Any, what: str) -> np.ndarray:
    """np.asarray with errors that work: iterators and sets are named, with a fix that itself succeeds."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise CoordinateError(
            f"cannot read the {what} as an array ({exc}); pass a rectangular list, array or tensor with one "
            "[lon, lat] row per point") from exc
    if arr.dtype.kind == "O" and arr.ndim == 0 and isinstance(values, Iterable) and not isinstance(values, str):
        if isinstance(values, (AbstractSet, Mapping)):
            raise CoordinateError(
                f"the {what} are a {type(values).__name__}, which has no order (the rows would come back "
                "shuffled); keep the points in a list, tuple, array or tensor and pass that")
        raise CoordinateError(
            f"the {what} are {'an iterator' if isinstance(values, Iterator) else 'an iterable'} "
            f"({type(values).__name__}), not an array; pass list(...) of it instead, e.g. "
            "to_canonical(list(zip(lons, lats))) (an iterator can be read only once: build the list once and "
            "reuse it)")
    return arr


def _working_dtype_t(t: Tensor, what: str) -> Tensor:
    if t.is_meta:
        raise CoordinateError(
            f"{what} are a meta tensor (a shape without values), which cannot be validated or encoded; "
            "create the tensor on a real device (e.g. device='cpu' or 'cuda') with its values")
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


# ----------------------------------------------------------------------------- positional input
def positional_columns(coords: Any, order: str) -> Tuple[Tensor, Tensor, Source]:
    """Array-like / tensor (N, 2) or (2,) in ``order`` -> (lon, lat) 1-D tensors in a float working dtype."""
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
            arr = _as_array(coords, "coordinates")
            t = np_to_tensor(_working_dtype_np(arr, "coordinates"))
    t = _rows_of_two(t)
    source = Source("positional", order)
    source.matrix = t
    if order == "latlon":
        return t[:, 1], t[:, 0], source
    return t[:, 0], t[:, 1], source


# ----------------------------------------------------------------------------- named columns
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
            arr = _as_array(col, f"values of {what}")
        t = np_to_tensor(_working_dtype_np(arr, what))
    if t.ndim != 1:
        raise CoordinateError(f"{what} must be one-dimensional (one value per point), got shape {tuple(t.shape)}")
    return t


def _find_column(columns: Sequence[Any], names: Tuple[str, ...], what: str, arg: str) -> Any:
    hits = [c for c in columns if isinstance(c, str) and c.strip().lower() in names]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise CoordinateError(
            f"no {what} column found among {list(columns)!r} (looked for {', '.join(names)}, case-insensitive); "
            f"pass {arg}='<column name>' (or pass a plain (N, 2) array with order='lonlat' or 'latlon')")
    raise CoordinateError(f"ambiguous {what} columns {hits!r}; pick one with {arg}='<column name>'")


def find_lonlat_columns(columns: Sequence[Any], lon_col: Any = None, lat_col: Any = None) -> Tuple[Any, Any]:
    """(longitude column, latitude column) among ``columns``, the names :func:`to_canonical` would use.

    Explicit ``lon_col``/``lat_col`` must be in ``columns``; otherwise each is found
    case-insensitively among ``LON_NAMES`` (lon, lng, long, longitude, x) and ``LAT_NAMES``
    (lat, latitude, y). Raises CoordinateError when a column is missing, ambiguous, or both
    names are the same column.
    """
    columns = list(columns)
    for arg, value in (("lon_col", lon_col), ("lat_col", lat_col)):
        if value is not None and value not in columns:
            raise CoordinateError(f"{arg}={value!r} is not a column; available columns: {columns!r}")
    lon_name = lon_col if lon_col is not None else _find_column(columns, LON_NAMES, "longitude", "lon_col")
    lat_name = lat_col if lat_col is not None else _find_column(columns, LAT_NAMES, "latitude", "lat_col")
    if lon_name == lat_name:
        raise CoordinateError(f"lon_col and lat_col both name column {lon_name!r}; pass two different columns")
    return lon_name, lat_name


def _named_columns(obj: Any, columns: List[Any], lon_col: Any, lat_col: Any) -> Tuple[Tensor, Tensor, Source]:
    lon_name, lat_name = find_lonlat_columns(columns, lon_col, lat_col)
    lon = _column_values(obj[lon_name], lon_name)
    lat = _column_values(obj[lat_name], lat_name)
    if lon.shape[0] != lat.shape[0]:
        raise CoordinateError(
            f"columns {lon_name!r} and {lat_name!r} have different lengths ({lon.shape[0]} and {lat.shape[0]})")
    if lat.device != lon.device:
        lat = lat.to(lon.device)
    dtype = torch.promote_types(lon.dtype, lat.dtype)
    return lon.to(dtype), lat.to(dtype), Source("columns", lon_name=lon_name, lat_name=lat_name)


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


# ----------------------------------------------------------------------------- geometries
def _point_columns(geoms: Any) -> Tuple[Tensor, Tensor, Source]:
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
        i = first_true(bad)
        name = "None/missing" if type_id[i] < 0 else arr[i].geom_type
        raise CoordinateError(
            f"point {i} is {name}, not a Point; convert geometries with .centroid or .representative_point() "
            "(or drop missing ones) first")
    empty = shapely.is_empty(arr)
    if empty.any():
        raise CoordinateError(f"point {first_true(empty)} is an empty Point; drop empty geometries first")
    x = torch.from_numpy(np.ascontiguousarray(shapely.get_x(arr), dtype=np.float64))
    y = torch.from_numpy(np.ascontiguousarray(shapely.get_y(arr), dtype=np.float64))
    return x, y, Source("points")


def _is_geometry(obj: Any) -> bool:
    return hasattr(obj, "geom_type") and not isinstance(obj, (Tensor, np.ndarray))


# ----------------------------------------------------------------------------- dispatch
def extract(coords: Any, order: str, lon_col: Any, lat_col: Any) -> Tuple[Tensor, Tensor, Source, Any]:
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
    return (*positional_columns(coords, order), None)
