"""pyproj plumbing: CRS parsing, cached transformers, column transforms with row-naming errors.

pyproj is imported inside the functions, on first use only (``import geoloc_embed`` stays light).
"""

from __future__ import annotations

import threading
from typing import Any, Tuple

import numpy as np
import torch
from torch import Tensor

from ..errors import CoordinateError
from ._tensors import first_true

__all__ = ["crs_name", "transformer", "transform_columns", "parse_crs", "is_wgs84", "same_crs", "reproject"]

_TRANSFORMERS = threading.local()
_CRS_HINT = "pass e.g. 'EPSG:3857', an EPSG code as an int, a PROJ string or a pyproj.CRS"


def transformer(src: Any, dst: Any) -> Any:
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
            f"cannot build a transformation from {src!r} to {dst!r}: {exc}; {_CRS_HINT}") from exc
    if key is not None:
        if len(cache) > 32:
            cache.clear()
        cache[key] = tr
    return tr


def crs_name(crs: Any) -> str:
    """Short text for a CRS in messages: 'EPSG:3035' for a pyproj/geopandas CRS object, repr otherwise."""
    to_string = getattr(crs, "to_string", None)
    if callable(to_string) and not isinstance(crs, (str, int)):
        try:
            return repr(to_string())
        except Exception:  # pragma: no cover - exotic CRS objects
            pass
    return repr(crs)


def transform_columns(tr: Any, x: np.ndarray, y: np.ndarray, what: str, crs: Any) -> np.ndarray:
    """(N,) x and (N,) y float64 -> (N, 2) float64 transformed [x, y]; an error names the first bad row."""
    xo, yo = tr.transform(x, y)
    out = np.column_stack((np.asarray(xo, dtype=np.float64), np.asarray(yo, dtype=np.float64)))
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        i = first_true(bad)
        raise CoordinateError(
            f"{what} at row {i} ({float(x[i])!r}, {float(y[i])!r}) cannot be transformed with CRS {crs_name(crs)} "
            "(outside the projection's domain); drop such points or choose a CRS that covers them")
    return out


#: Reprojected points must project back to their input within this relative tolerance (1e-6 of
#: |value| + 1, in the CRS's units): catches inverse projections that clamp or wrap out-of-domain
#: values (web Mercator x = 1e8 m comes back as a valid-looking longitude 178.3).
_ROUND_TRIP_RTOL = 1e-6


def parse_crs(crs: Any) -> Any:
    """pyproj.CRS from any user input, with a CoordinateError saying what to pass instead."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise CoordinateError(
            f"crs={crs!r} is not a coordinate reference system pyproj understands ({exc}); {_CRS_HINT}") from exc


def is_wgs84(crs: Any) -> bool:
    """True when ``crs`` is WGS 84 geographic (in either axis order); cheap for the usual spellings."""
    if isinstance(crs, (int, np.integer)) and not isinstance(crs, bool) and int(crs) == 4326:
        return True
    if isinstance(crs, str) and crs.strip().upper() in ("EPSG:4326", "OGC:CRS84"):
        return True
    return bool(parse_crs(crs).equals("EPSG:4326", ignore_axis_order=True))


def same_crs(a: Any, b: Any) -> bool:
    return bool(parse_crs(a) == parse_crs(b))


def reproject(x: Tensor, y: Tensor, crs: Any) -> Tuple[Tensor, Tensor]:
    """(N,) easting and northing in ``crs`` -> (N,) lon and lat float64 degrees (WGS 84), on x's device.

    Raises CoordinateError for a point outside the CRS's domain: one the inverse projection cannot
    map, or maps to a lon/lat that does not project back to it (clamped or wrapped).
    """
    xs = x.detach().to("cpu", torch.float64).numpy()
    ys = y.detach().to("cpu", torch.float64).numpy()
    out = transform_columns(transformer(crs, "EPSG:4326"), xs, ys, "point (x, y)", crs)
    with np.errstate(invalid="ignore", over="ignore"):
        back = np.column_stack(transformer("EPSG:4326", crs).transform(out[:, 0], out[:, 1]))
        err = np.abs(back - np.column_stack((xs, ys)))
        tol = _ROUND_TRIP_RTOL * (1.0 + np.abs(np.column_stack((xs, ys))))
    bad = ~(err <= tol).all(axis=1)
    if bad.any():
        i = first_true(bad)
        raise CoordinateError(
            f"point (x, y) at row {i} ({float(xs[i])!r}, {float(ys[i])!r}) is outside the domain of CRS "
            f"{crs_name(crs)}: it maps to lon/lat ({out[i, 0]:.6g}, {out[i, 1]:.6g}), which projects back to "
            f"({back[i, 0]:.6g}, {back[i, 1]:.6g}); drop such points, or check the CRS and the units")
    t = torch.from_numpy(out).to(x.device)
    return t[:, 0], t[:, 1]
