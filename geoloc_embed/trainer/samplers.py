"""Negative-location samplers: (n, generator) -> (n, 2) [lon, lat] degrees, on the generator's device.

* ``uniform``: uniform on the sphere (the default): lon = 360 u - 180, lat = asin(2 v - 1), drawn by
  :func:`geoloc_embed.coords.sample_uniform_sphere` (the package's one uniform sampler, re-exported here).
* ``sphericalold``: the authors' elliptical sampler used by both CSP scripts (csp-spec.md section
  2.4), for faithful reproduction: a, b ~ U(-1, 1), theta = pi (b + 1), r = sqrt(1 - a^2),
  lon = 180 r cos(theta), lat = 90 r sin(theta). Never falls outside (lon/180)^2 + (lat/90)^2 <= 1.
* ``data``: resample training locations, optionally jittered (Gaussian, degrees).
* ``bbox``: uniform on the sphere within a lon/lat box (area-uniform; lat = asin(U(sin a, sin b))).
* ``plate``: uniform in the (lon, lat) rectangle (not area-uniform; geo_prior's "plate carree").

Every sampler draws from the ``torch.Generator`` it is given, so a run's negatives are one
reproducible random stream whose state the trainer checkpoints.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import torch
from torch import Tensor

from ..coords import sample_uniform_sphere

__all__ = [
    "NegativeSampler",
    "UniformSphereSampler",
    "SphericalOldSampler",
    "PlateCarreeSampler",
    "DataDistributionSampler",
    "BoundingBoxSampler",
    "sample_uniform_sphere",
    "sample_sphericalold",
    "build_negative_sampler",
    "NEGATIVE_SAMPLERS",
]

_RAD2DEG = 180.0 / math.pi


def _rand(n: int, k: int, generator: Optional[torch.Generator], device: Any, dtype: torch.dtype) -> Tensor:
    if generator is not None:
        device = generator.device
    return torch.rand((n, k), generator=generator, device=device, dtype=dtype)


def sample_sphericalold(n: int, *, generator: Optional[torch.Generator] = None,
                        dtype: torch.dtype = torch.float32, device: Any = None) -> Tensor:
    """(n, 2) [lon, lat] degrees from the authors' elliptical ``sphericalold`` sampler."""
    r = _rand(n, 2, generator, device, dtype) * 2.0 - 1.0
    a, b = r[:, 0], r[:, 1]
    theta = math.pi * (b + 1.0)
    rad = torch.sqrt((1.0 - a * a).clamp_(min=0.0))
    return torch.stack((180.0 * rad * torch.cos(theta), 90.0 * rad * torch.sin(theta)), dim=1)


class NegativeSampler:
    """Base class: ``sampler(n, generator, device=None) -> (n, 2)`` float32 [lon, lat] degrees."""

    name = "base"

    def __call__(self, n: int, generator: Optional[torch.Generator] = None, device: Any = None) -> Tensor:
        return self.sample(n, generator, device)

    def sample(self, n: int, generator: Optional[torch.Generator] = None,
               device: Any = None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def to(self, device: Any) -> "NegativeSampler":
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class UniformSphereSampler(NegativeSampler):
    name = "uniform"

    def sample(self, n: int, generator: Optional[torch.Generator] = None, device: Any = None) -> Tensor:
        # on the generator's device, like every sampler here (``device`` only without a generator)
        return sample_uniform_sphere(n, generator=generator, device=device if generator is None else None)


class SphericalOldSampler(NegativeSampler):
    name = "sphericalold"

    def sample(self, n: int, generator: Optional[torch.Generator] = None, device: Any = None) -> Tensor:
        return sample_sphericalold(n, generator=generator, device=device)


class PlateCarreeSampler(NegativeSampler):
    """Uniform in the lon/lat rectangle (over-samples the poles on the sphere)."""

    name = "plate"

    def sample(self, n: int, generator: Optional[torch.Generator] = None, device: Any = None) -> Tensor:
        r = _rand(n, 2, generator, device, torch.float32)
        return torch.stack((r[:, 0] * 360.0 - 180.0, r[:, 1] * 180.0 - 90.0), dim=1)


class BoundingBoxSampler(NegativeSampler):
    """Uniform on the sphere inside ``(lon_min, lon_max, lat_min, lat_max)`` degrees.

    ``lon_min > lon_max`` means the box crosses the antimeridian.
    """

    name = "bbox"

    def __init__(self, bbox: Sequence[float]) -> None:
        if len(bbox) != 4:
            raise ValueError(f"bbox must be (lon_min, lon_max, lat_min, lat_max), got {bbox!r}")
        lon_min, lon_max, lat_min, lat_max = (float(b) for b in bbox)
        if not (-90.0 <= lat_min < lat_max <= 90.0):
            raise ValueError(f"bbox latitudes must satisfy -90 <= lat_min < lat_max <= 90, got {bbox!r}")
        if not (-180.0 <= lon_min <= 180.0 and -180.0 <= lon_max <= 180.0) or lon_min == lon_max:
            raise ValueError(f"bbox longitudes must be distinct values in [-180, 180], got {bbox!r}")
        self.bbox = (lon_min, lon_max, lat_min, lat_max)

    def sample(self, n: int, generator: Optional[torch.Generator] = None, device: Any = None) -> Tensor:
        lon_min, lon_max, lat_min, lat_max = self.bbox
        width = lon_max - lon_min if lon_max > lon_min else lon_max + 360.0 - lon_min
        r = _rand(n, 2, generator, device, torch.float32)
        lon = lon_min + r[:, 0] * width
        lon = torch.where(lon > 180.0, lon - 360.0, lon)
        s0, s1 = math.sin(math.radians(lat_min)), math.sin(math.radians(lat_max))
        lat = torch.asin((s0 + r[:, 1] * (s1 - s0)).clamp_(-1.0, 1.0)) * _RAD2DEG
        lat = lat.clamp_(lat_min, lat_max)
        return torch.stack((lon, lat), dim=1)

    def __repr__(self) -> str:
        return f"BoundingBoxSampler(bbox={self.bbox})"


class DataDistributionSampler(NegativeSampler):
    """Resample rows of ``locations`` (N, 2) uniformly with replacement, plus optional jitter.

    ``jitter`` is the standard deviation (degrees) of Gaussian noise added to both coordinates;
    latitudes are then reflected into [-90, 90] and longitudes wrapped into [-180, 180).
    Rows with a NaN coordinate are ignored.
    """

    name = "data"

    def __init__(self, locations: Union[Tensor, Any], jitter: float = 0.0) -> None:
        loc = torch.as_tensor(locations, dtype=torch.float32).reshape(-1, 2)
        loc = loc[~torch.isnan(loc).any(dim=1)]
        if loc.shape[0] == 0:
            raise ValueError("the data-distribution sampler needs at least one valid location")
        if jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {jitter}")
        self.locations = loc
        self.jitter = float(jitter)

    def to(self, device: Any) -> "DataDistributionSampler":
        self.locations = self.locations.to(device)
        return self

    def sample(self, n: int, generator: Optional[torch.Generator] = None, device: Any = None) -> Tensor:
        dev = generator.device if generator is not None else (device or self.locations.device)
        if self.locations.device != torch.device(dev):
            self.locations = self.locations.to(dev)
        idx = torch.randint(0, self.locations.shape[0], (n,), generator=generator, device=dev)
        out = self.locations[idx]
        if self.jitter > 0:
            out = out + torch.randn((n, 2), generator=generator, device=dev) * self.jitter
            lat = out[:, 1]
            lat = torch.where(lat > 90.0, 180.0 - lat, lat)
            lat = torch.where(lat < -90.0, -180.0 - lat, lat).clamp(-90.0, 90.0)
            lon = torch.remainder(out[:, 0] + 180.0, 360.0) - 180.0
            out = torch.stack((lon, lat), dim=1)
        return out

    def __repr__(self) -> str:
        return f"DataDistributionSampler(n={self.locations.shape[0]}, jitter={self.jitter})"


NEGATIVE_SAMPLERS = ("uniform", "sphericalold", "plate", "data", "bbox")


def build_negative_sampler(name: str, *, locations: Optional[Tensor] = None, jitter: float = 0.0,
                           bbox: Optional[Sequence[float]] = None) -> NegativeSampler:
    """Sampler by name: ``uniform`` | ``sphericalold`` | ``plate`` | ``data`` (needs ``locations``) |
    ``bbox`` (needs ``bbox``)."""
    if name == "uniform":
        return UniformSphereSampler()
    if name == "sphericalold":
        return SphericalOldSampler()
    if name == "plate":
        return PlateCarreeSampler()
    if name == "data":
        if locations is None:
            raise ValueError("the 'data' negative sampler needs the training locations")
        return DataDistributionSampler(locations, jitter=jitter)
    if name == "bbox":
        if bbox is None:
            raise ValueError("the 'bbox' negative sampler needs bbox=(lon_min, lon_max, lat_min, lat_max)")
        return BoundingBoxSampler(bbox)
    raise ValueError(f"unknown negative sampler {name!r}; choose one of {', '.join(NEGATIVE_SAMPLERS)}")
