"""Helpers on canonical coordinates: wrapping, degrees/radians, unit vectors, distances, sampling.

All functions are vectorised torch; they take tensors, ndarrays, array-likes or scalars and
return the caller's container type (see each docstring). Angles are degrees unless a name says
otherwise. :func:`sample_uniform_sphere` is the package's one uniform sampler on the sphere:
everything else that needs uniform points (the trainer's negatives, the benchmark's evaluation
points, export probes, synthetic data, RBF anchors) calls it.

Longitude wrapping rule: :func:`wrap_longitude` maps any longitude into the half-open interval
[-180, 180): values already in that interval are returned unchanged (bit for bit), +180 becomes
-180 (the same meridian), 190 -> -170, -190 -> 170, 540 -> -180.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from ._tensors import Device, check_last_dim, float_tensor

__all__ = [
    "EARTH_RADIUS_KM",
    "wrap_longitude",
    "deg2rad",
    "rad2deg",
    "lonlat_to_xyz",
    "xyz_to_lonlat",
    "haversine",
    "antipode",
    "sample_uniform_sphere",
]

#: Mean Earth radius R1 = (2a + b) / 3 of WGS 84 (IUGG), in kilometres.
EARTH_RADIUS_KM = 6371.0088


# ----------------------------------------------------------------------------- wrapping, radians
def wrap_tensor(lon: Tensor) -> Tensor:
    """:func:`wrap_longitude` on a float tensor (any shape, same dtype and device); exact for every value."""
    # fmod is exact in IEEE arithmetic (the remainder of two floats is representable), and so are
    # the +-360 fix-ups (Sterbenz: both operands within a factor 2), so the result is the exact
    # wrapped value of the given float at any magnitude, and values in [-180, 180) are unchanged.
    # (lon - 360 * floor((lon + 180) / 360) is not: it loses everything once |lon| >> 1 / eps.)
    out = torch.fmod(lon, 360.0)
    out = torch.where(out >= 180.0, out - 360.0, out)
    return torch.where(out < -180.0, out + 360.0, out)


def wrap_keep_180(lon: Tensor) -> Tuple[Tensor, List[float]]:
    """to_canonical's wrap: values in [-180, 180] unchanged, others wrapped; also returns [min, max]."""
    out = torch.where(lon == 180.0, lon, wrap_tensor(lon))
    lo, hi = torch.stack(torch.aminmax(out)).tolist()
    return out, [lo, hi]


def wrap_limit(dtype: torch.dtype) -> float:
    """Largest |longitude| that :func:`to_canonical` wraps in ``dtype``: 2 / eps (2**24 in float32).

    Beyond it neighbouring values of the dtype are more than a degree apart, so a point's
    position around the globe is no longer held by the number.
    """
    return 2.0 / torch.finfo(dtype).eps


def wrap_longitude(lon: Any) -> Any:
    """Wrap longitudes (degrees, any shape) into [-180, 180).

    Values already in [-180, 180) are returned unchanged; +180 maps to -180 (same meridian),
    190 -> -170, -190 -> 170, 540 -> -180. NaN stays NaN, +-inf become NaN. The result is the
    exact remainder of the given float at any magnitude (so always in [-180, 180)); note that a
    float32 beyond 2**24 (float64: 2**53) no longer holds whole degrees, and
    :func:`~geoloc_embed.coords.to_canonical` refuses such longitudes.

    Returns the caller's type: tensor in, tensor out (differentiable, same device); ndarray or
    array-like in, ndarray out; Python scalar in, float out.
    """
    t, back = float_tensor(lon, "longitudes")
    return back(wrap_tensor(t))


def deg2rad(x: Any) -> Any:
    """Degrees to radians; tensor in -> tensor out, ndarray/array-like in -> ndarray out, scalar -> float."""
    t, back = float_tensor(x, "angles")
    return back(torch.deg2rad(t))


def rad2deg(x: Any) -> Any:
    """Radians to degrees; tensor in -> tensor out, ndarray/array-like in -> ndarray out, scalar -> float."""
    t, back = float_tensor(x, "angles")
    return back(torch.rad2deg(t))


# ----------------------------------------------------------------------------- sphere geometry
def lonlat_to_xyz(lonlat: Any) -> Any:
    """(..., 2) [lon, lat] degrees -> (..., 3) unit vectors (cos(lat) cos(lon), cos(lat) sin(lon), sin(lat)).

    x points to (0, 0), y to (90 E, 0), z to the North Pole. Same container type as the input
    (an ndarray keeps its float dtype; integers become float64); differentiable for tensors.
    """
    t, back = float_tensor(lonlat, "lonlat")
    check_last_dim(t, 2, "lonlat_to_xyz")
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
    t, back = float_tensor(xyz, "xyz")
    check_last_dim(t, 3, "xyz_to_lonlat")
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
    ta, back_a = float_tensor(a, "a")
    tb, back_b = float_tensor(b, "b")
    check_last_dim(ta, 2, "haversine")
    check_last_dim(tb, 2, "haversine")
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
    t, back = float_tensor(lonlat, "lonlat")
    check_last_dim(t, 2, "antipode")
    lon, lat = t[..., 0], t[..., 1]
    return back(torch.stack((torch.where(lon > 0, lon - 180.0, lon + 180.0), -lat), dim=-1))


# ----------------------------------------------------------------------------- sampling
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

    This is the package's one uniform sampler. numpy code passes a seeded generator and takes
    ``.numpy()``: ``sample_uniform_sphere(n, generator=torch.Generator().manual_seed(seed),
    dtype=torch.float64).numpy()``.
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
