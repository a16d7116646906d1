"""GeoCLIP's input path: Equal Earth projection, then one Gaussian random-Fourier-feature branch per sigma.

GeoCLIP (``geoclip`` wheel, ``geoclip/model/location_encoder.py`` and ``geoclip/model/rff/``)
takes (lat, lon) in degrees; the canonical (lon, lat) input is swapped here, so users never
see GeoCLIP's order (csp-spec.md section 9 item 18):

* Equal Earth on the unit sphere (Savric, Patterson & Jenny 2018; the PROJ ``eqearth`` formulas)::

      sin(t) = sqrt(3) / 2 * sin(lat),    t in radians
      x = 2 sqrt(3) lon cos(t) / (3 (9 A4 t**8 + 7 A3 t**6 + 3 A2 t**2 + A1))
      y = A4 t**9 + A3 t**7 + A2 t**3 + A1 t
      v = (x, y) * 66.50336 / 180

  with A1..A4 = 1.340264, -0.081106, 0.000893, 0.003796 and lon, lat in radians.
* branch i (sigma_i): ``gamma_i(v) = [cos(2 pi v b_i^T), sin(2 pi v b_i^T)]`` (cos first), with
  ``b_i`` a (rff_features, 2) matrix drawn from N(0, sigma_i**2) and stored in the state dict
  (``branches.{i}.b``, GeoCLIP's ``LocEnc{i}.capsule.0.b``).

Output: (N, B * 2F) with B = len(rff_sigmas), F = rff_features, branch-major
([cos_0, sin_0, cos_1, sin_1, ...]); ``num_branches`` = B tells ``LocationEncoder`` to run one
network per branch and sum the outputs. The projection and the phases are computed in float64
(phases reach ~6000 rad for sigma = 256, where float32 would lose 5e-4 rad), reduced modulo 2 pi
and only then turned into float32 sin/cos.
"""

import math

import torch
from torch import Tensor, nn

from ...config import EqualEarthRFFConfig
from .base import PositionEncoder, register_position_encoder, sin_cos

__all__ = ["EQUAL_EARTH_A", "GEOCLIP_SCALE", "EqualEarthRFFPositionEncoder", "equal_earth_projection"]

#: Equal Earth polynomial coefficients A1, A2, A3, A4.
EQUAL_EARTH_A = (1.340264, -0.081106, 0.000893, 0.003796)
#: GeoCLIP's scale factor: projected coordinates are multiplied by SF / 180.
GEOCLIP_SCALE = 66.50336
#: Seed of the fixed generator that draws ``b`` for a fresh (untrained) model; branch i uses seed + i.
RFF_SEED = 0

_DEG2RAD = math.pi / 180.0


def equal_earth_projection(lonlat: Tensor) -> Tensor:
    """GeoCLIP's scaled Equal Earth coordinates of canonical points: (N, 2) [lon, lat] deg -> (N, 2) float64.

    Returns (x, y) * 66.50336 / 180 where (x, y) is Equal Earth on the unit sphere.
    """
    a1, a2, a3, a4 = EQUAL_EARTH_A
    radians = lonlat.to(torch.float64) * _DEG2RAD
    lon, lat = radians[:, 0], radians[:, 1]
    u = math.sqrt(3.0) / 2.0 * torch.sin(lat)
    # t = asin(u), |u| <= sqrt(3)/2 so cos(t) >= 1/2: a float32 asin refined by two Newton steps in
    # float64 (error ~1e-16). Same value as a float64 asin, but exportable: ONNX Runtime has no
    # float64 Asin kernel.
    t = torch.asin(u.to(torch.float32)).to(torch.float64)
    for _ in range(2):
        t = t - (torch.sin(t) - u) / torch.cos(t)
    t2 = t * t
    t6 = t2 * t2 * t2
    x = 2.0 * math.sqrt(3.0) * lon * torch.cos(t) / (3.0 * (9.0 * a4 * t6 * t2 + 7.0 * a3 * t6 + 3.0 * a2 * t2 + a1))
    y = t * (a4 * t6 * t2 + a3 * t6 + a2 * t2 + a1)
    return torch.stack((x, y), dim=-1) * (GEOCLIP_SCALE / 180.0)


class _GaussianBranch(nn.Module):
    """Holds one branch's (F, 2) direction matrix ``b`` as a persistent buffer."""

    def __init__(self, b: Tensor) -> None:
        super().__init__()
        self.register_buffer("b", b)

    def extra_repr(self) -> str:
        return f"features={self.b.shape[0]}"


@register_position_encoder("equal-earth-rff")
class EqualEarthRFFPositionEncoder(PositionEncoder):
    """GeoCLIP's Equal Earth projection + Gaussian random Fourier features, one branch per sigma.

    Input: (N, 2) [lon, lat] degrees. Output: (N, B * 2 * rff_features) in the input dtype,
    branch-major, each branch [cos(2 pi v b^T), sin(2 pi v b^T)] (module docstring).
    State: ``branches.{i}.b`` (rff_features, 2), float32 by default, drawn deterministically
    from N(0, sigma_i**2) for a fresh model and overwritten by pretrained weights.
    """

    def __init__(self, config: EqualEarthRFFConfig) -> None:
        super().__init__(config)
        self.sigmas = tuple(float(s) for s in config.rff_sigmas)
        self.num_features = config.rff_features
        branches = []
        for i, sigma in enumerate(self.sigmas):
            generator = torch.Generator().manual_seed(RFF_SEED + i)
            branches.append(_GaussianBranch(torch.randn(self.num_features, 2, generator=generator) * sigma))
        self.branches = nn.ModuleList(branches)
        self.num_branches = config.num_branches
        self.out_dim = config.feature_dim

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        # ``b`` reaches |b| ~ 1000 for sigma = 256: never let .half()/.bfloat16() round it.
        saved = [branch.b for branch in self.branches]
        super()._apply(fn, recurse)
        for branch, old in zip(self.branches, saved, strict=False):
            if branch.b.dtype not in (torch.float32, torch.float64):
                branch.b = old.to(device=branch.b.device, dtype=torch.float32)
        return self

    def forward(self, lonlat: Tensor) -> Tensor:
        n = lonlat.shape[0]
        v = equal_earth_projection(lonlat)                                        # (N, 2) float64
        b = torch.cat([branch.b for branch in self.branches]).to(torch.float64)  # (B * F, 2)
        phase = (2.0 * math.pi) * (v @ b.t())                                     # (N, B * F)
        sin, cos = sin_cos(phase, lonlat.dtype)
        features = torch.stack((cos.view(n, self.num_branches, self.num_features),
                                sin.view(n, self.num_branches, self.num_features)), dim=2)
        return features.reshape(n, self.out_dim)

    def extra_repr(self) -> str:
        return f"sigmas={self.sigmas}, rff_features={self.num_features}, out_dim={self.out_dim}"
