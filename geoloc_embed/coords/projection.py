"""Map projections of canonical coordinates with pyproj (imported on first use).

x is always easting and y northing, whatever the CRS's own axis order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import CoordinateError
from ._tensors import first_true
from .canonical import to_canonical
from .crs import transform_columns, transformer
from .inputs import positional_columns

__all__ = ["project", "unproject", "equal_earth"]


def project(lonlat: Any, crs: Any = "EPSG:8857") -> np.ndarray:
    """(N, 2) or (2,) [lon, lat] degrees (WGS 84) -> (N, 2) float64 ndarray of projected [x, y].

    ``crs`` is anything pyproj accepts (default EPSG:8857, WGS 84 / Equal Earth Greenwich, in
    metres); x is easting and y northing whatever the CRS's axis order. The input is validated
    like ``to_canonical(lonlat, "lonlat")``. pyproj is imported on first use.
    """
    ll = to_canonical(lonlat, "lonlat", dtype=torch.float64, device="cpu", check_order=False).numpy()
    if ll.shape[0] == 0:
        return np.empty((0, 2), dtype=np.float64)
    return transform_columns(transformer("EPSG:4326", crs), ll[:, 0], ll[:, 1], "point (lon, lat)", crs)


def unproject(xy: Any, crs: Any = "EPSG:8857") -> np.ndarray:
    """(N, 2) or (2,) projected [x, y] in ``crs`` -> (N, 2) float64 ndarray of [lon, lat] degrees (WGS 84).

    The inverse of :func:`project` (x is easting, y northing).
    """
    tx, ty, _ = positional_columns(xy, "lonlat")
    x = tx.detach().to("cpu", torch.float64).numpy()
    y = ty.detach().to("cpu", torch.float64).numpy()
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.all():
        i = first_true(~finite)
        raise CoordinateError(
            f"non-finite projected coordinate at row {i} ({float(x[i])!r}, {float(y[i])!r}); drop or fill it first")
    if x.shape[0] == 0:
        return np.empty((0, 2), dtype=np.float64)
    return transform_columns(transformer(crs, "EPSG:4326"), x, y, "point (x, y)", crs)


def equal_earth(lonlat: Any) -> np.ndarray:
    """(N, 2) [lon, lat] degrees -> (N, 2) Equal Earth (EPSG:8857) [x, y] metres; see :func:`project`."""
    return project(lonlat, "EPSG:8857")
