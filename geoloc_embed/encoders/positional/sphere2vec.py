"""Sphere2Vec position encoders: sphereC, sphereC+, sphereM, sphereM+ and dfs.

Formulas: csp-spec.md section 1.3 (table) and section 9 item 8. Every family converts the canonical
degrees to radians (lambda = lon * pi / 180, phi = lat * pi / 180) and multiplies them by the S
geometric frequencies w_s of ``geometric_frequencies`` (no 2*pi factor), giving the per-scale angles
lambda_s = w_s * lambda and phi_s = w_s * phi. These families are usually run with max_radius = 1, so
that w runs from 1 / min_radius down to 1. Phases are computed in float64 and reduced by ``sin_cos``
(csp-spec.md section 9 item 1); the products of sines and cosines are taken in the output dtype.

All per-scale layouts are scale-major: the block of scale s = 0 first, then s = 1, and so on.

Note on the antimeridian: lambda_s = w_s * lambda has period 360 / w_s degrees, so unless every w_s is
an integer the odd terms (sin lambda_s) differ between lon = -180 and lon = 180. This is a property of the
published encoders, kept as is so that original checkpoints load unchanged.
"""

import math
from typing import Union

import torch
from torch import Tensor

from ...config import DFSConfig, SphereCConfig, SphereCPlusConfig, SphereMConfig, SphereMPlusConfig
from .base import PositionEncoder, geometric_frequencies, register_position_encoder, sin_cos

__all__ = [
    "SphereCPositionEncoder",
    "SphereCPlusPositionEncoder",
    "SphereMPositionEncoder",
    "SphereMPlusPositionEncoder",
    "DFSPositionEncoder",
]

_DEG2RAD = math.pi / 180.0

#: The family configs these encoders are built from: S scales between r_min and r_max, in radians.
Sphere2VecConfig = Union[SphereCConfig, SphereCPlusConfig, SphereMConfig, SphereMPlusConfig, DFSConfig]


class _MultiScaleSphere(PositionEncoder):
    """Shared part: the float64 frequencies and the sines/cosines of the per-scale angles."""

    #: Number of features per scale (the config's ``terms_per_scale``; dfs has its own layout).
    terms_per_scale: int = 0

    def __init__(self, config: Sphere2VecConfig) -> None:
        super().__init__(config)
        freqs = geometric_frequencies(config.frequency_num, config.min_radius, config.max_radius)
        self.register_float64_buffer("frequencies", freqs)
        self.out_dim = config.feature_dim

    def _scaled(self, lonlat: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """sin/cos of lambda_s and phi_s, each (N, S) in the input dtype."""
        radians = lonlat.to(torch.float64) * _DEG2RAD  # (N, 2)
        phase = radians.unsqueeze(-1) * self.frequencies  # (N, 2, S)
        sin, cos = sin_cos(phase, lonlat.dtype)
        return sin[:, 0], cos[:, 0], sin[:, 1], cos[:, 1]

    @staticmethod
    def _plain(lonlat: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """sin/cos of the single-scale lambda and phi, each (N, 1) in the input dtype."""
        radians = lonlat.to(torch.float64) * _DEG2RAD  # (N, 2)
        sin, cos = sin_cos(radians, lonlat.dtype)
        return sin[:, :1], cos[:, :1], sin[:, 1:], cos[:, 1:]

    def _blocks(self, terms: list[Tensor]) -> Tensor:
        """Interleave per-scale terms [(N, S), ...] into the scale-major layout (N, len(terms) * S)."""
        return torch.stack(terms, dim=-1).reshape(terms[0].shape[0], self.out_dim)


@register_position_encoder("sphere-c")
class SphereCPositionEncoder(_MultiScaleSphere):
    """sphereC (Sphere2Vec ``sphere``): 3S features.

    Per scale s: [sin phi_s, cos phi_s * cos lambda_s, cos phi_s * sin lambda_s].
    """

    terms_per_scale = 3

    def forward(self, lonlat: Tensor) -> Tensor:
        sin_lam, cos_lam, sin_phi, cos_phi = self._scaled(lonlat)
        return self._blocks([sin_phi, cos_phi * cos_lam, cos_phi * sin_lam])


@register_position_encoder("sphere-c-plus")
class SphereCPlusPositionEncoder(_MultiScaleSphere):
    """sphereC+ (Sphere2Vec ``spheregrid``): 6S features.

    Per scale s: [sin phi_s, cos phi_s, sin lambda_s, cos lambda_s,
    cos phi_s * cos lambda_s, cos phi_s * sin lambda_s].
    """

    terms_per_scale = 6

    def forward(self, lonlat: Tensor) -> Tensor:
        sin_lam, cos_lam, sin_phi, cos_phi = self._scaled(lonlat)
        return self._blocks([sin_phi, cos_phi, sin_lam, cos_lam, cos_phi * cos_lam, cos_phi * sin_lam])


@register_position_encoder("sphere-m")
class SphereMPositionEncoder(_MultiScaleSphere):
    """sphereM (Sphere2Vec ``spheremixscale``): 5S features mixing one scaled and one plain angle.

    Per scale s: [sin phi_s, cos phi_s * cos lambda, cos phi * cos lambda_s,
    cos phi_s * sin lambda, cos phi * sin lambda_s] (lambda, phi without subscript: plain radians).
    """

    terms_per_scale = 5

    def forward(self, lonlat: Tensor) -> Tensor:
        sin_lam, cos_lam, sin_phi, cos_phi = self._scaled(lonlat)
        sin_lam1, cos_lam1, _, cos_phi1 = self._plain(lonlat)
        return self._blocks([sin_phi, cos_phi * cos_lam1, cos_phi1 * cos_lam,
                             cos_phi * sin_lam1, cos_phi1 * sin_lam])


@register_position_encoder("sphere-m-plus")
class SphereMPlusPositionEncoder(_MultiScaleSphere):
    """sphereM+ (Sphere2Vec ``spheregridmixscale``): 8S features.

    Per scale s: [sin phi_s, cos phi_s, sin lambda_s, cos lambda_s,
    cos phi_s * cos lambda, cos phi * cos lambda_s, cos phi_s * sin lambda, cos phi * sin lambda_s]:
    the four grid terms of sphereC+, then the four mixed terms of sphereM in sphereM's order.
    (Read from csp-spec.md section 1.3; no checkpoint of this family was available to confirm it.)
    """

    terms_per_scale = 8

    def forward(self, lonlat: Tensor) -> Tensor:
        sin_lam, cos_lam, sin_phi, cos_phi = self._scaled(lonlat)
        sin_lam1, cos_lam1, _, cos_phi1 = self._plain(lonlat)
        return self._blocks([sin_phi, cos_phi, sin_lam, cos_lam,
                             cos_phi * cos_lam1, cos_phi1 * cos_lam, cos_phi * sin_lam1, cos_phi1 * sin_lam])


@register_position_encoder("dfs")
class DFSPositionEncoder(_MultiScaleSphere):
    """Double Fourier sphere (Sphere2Vec ``dft``): 4S^2 + 4S features.

    Layout: first the outer product of u = [sin lambda_0, cos lambda_0, sin lambda_1, cos lambda_1, ...]
    (2S) with v = [sin phi_0, cos phi_0, sin phi_1, cos phi_1, ...] (2S), flattened row-major, so that
    column (2s + a) * 2S + (2t + b) holds u[2s + a] * v[2t + b] (a, b = 0 for sin, 1 for cos; s indexes
    the longitude scale, t the latitude scale); then 4S single terms, scale-major
    [sin phi_s, cos phi_s, sin lambda_s, cos lambda_s] for s = 0..S-1.
    (Read from csp-spec.md section 1.3; no checkpoint of this family was available to confirm it.)
    """

    terms_per_scale = 4
    config: DFSConfig

    def __init__(self, config: DFSConfig) -> None:
        super().__init__(config)

    def forward(self, lonlat: Tensor) -> Tensor:
        n = lonlat.shape[0]
        num = self.config.frequency_num
        sin_lam, cos_lam, sin_phi, cos_phi = self._scaled(lonlat)
        u = torch.stack((sin_lam, cos_lam), dim=-1).reshape(n, 2 * num)
        v = torch.stack((sin_phi, cos_phi), dim=-1).reshape(n, 2 * num)
        outer = (u.unsqueeze(-1) * v.unsqueeze(-2)).reshape(n, 4 * num * num)
        single = torch.stack((sin_phi, cos_phi, sin_lam, cos_lam), dim=-1).reshape(n, 4 * num)
        return torch.cat((outer, single), dim=-1)
