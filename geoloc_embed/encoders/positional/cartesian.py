"""Cartesian position encoders on the unit sphere: xyz and NeRF (csp-spec.md section 9 items 9-10)."""

import math

import torch
from torch import Tensor

from ...config import NeRFConfig, XYZConfig
from .base import PositionEncoder, register_position_encoder, sin_cos

__all__ = ["XYZPositionEncoder", "NeRFPositionEncoder", "unit_sphere_xyz"]

_DEG2RAD = math.pi / 180.0


def unit_sphere_xyz(lonlat: Tensor) -> Tensor:
    """(N, 2) [lon, lat] degrees -> (N, 3) float64 [cos(lat) cos(lon), cos(lat) sin(lon), sin(lat)]."""
    radians = lonlat.to(torch.float64) * _DEG2RAD
    sin, cos = torch.sin(radians), torch.cos(radians)
    return torch.stack((cos[:, 1] * cos[:, 0], cos[:, 1] * sin[:, 0], sin[:, 1]), dim=-1)


@register_position_encoder("xyz")
class XYZPositionEncoder(PositionEncoder):
    """Point on the unit sphere: (N, 3) [cos phi cos lambda, cos phi sin lambda, sin phi].

    lambda, phi are lon, lat in radians; computed in float64, returned in the input dtype.
    """

    def __init__(self, config: XYZConfig) -> None:
        super().__init__(config)
        self.out_dim = config.feature_dim

    def forward(self, lonlat: Tensor) -> Tensor:
        return unit_sphere_xyz(lonlat).to(lonlat.dtype)


@register_position_encoder("nerf")
class NeRFPositionEncoder(PositionEncoder):
    """NeRF encoding of the unit-sphere point: sin and cos of xyz * pi * 2**l, l = 0..L-1.

    L = ``config.nerf_levels`` (default 16, which is what TorchSpatial always uses: it ignores
    ``frequency_num``). Output (N, 6L): [sin(x * f_0..f_{L-1}), sin(y * f_...), sin(z * f_...),
    cos(x * f_...), cos(y * f_...), cos(z * f_...)] with f_l = pi * 2**l.
    xyz and the phases are computed in float64 (csp-spec.md section 9 item 1).
    """

    def __init__(self, config: NeRFConfig) -> None:
        super().__init__(config)
        levels = config.nerf_levels
        freqs = math.pi * torch.pow(2.0, torch.arange(levels, dtype=torch.float64))
        self.register_float64_buffer("frequencies", freqs)
        self.out_dim = config.feature_dim

    def forward(self, lonlat: Tensor) -> Tensor:
        n = lonlat.shape[0]
        phase = unit_sphere_xyz(lonlat).unsqueeze(-1) * self.frequencies  # (N, 3, L)
        sin, cos = sin_cos(phase, lonlat.dtype)
        return torch.cat((sin.reshape(n, -1), cos.reshape(n, -1)), dim=-1)
