"""Space2Vec "theory" position encoder (csp-spec.md section 1.3 and section 9 item 7).

The "grid" member of the Space2Vec family lives in ``grid.py``.
"""

import math

import torch
from torch import Tensor

from ...config import TheoryConfig
from .base import PositionEncoder, geometric_frequencies, register_position_encoder, sin_cos_interleaved

__all__ = ["TheoryPositionEncoder"]


@register_position_encoder("theory")
class TheoryPositionEncoder(PositionEncoder):
    """sin/cos of the degree pair projected on three unit vectors 120 degrees apart, at S scales.

    Input: (N, 2) [lon, lat] degrees, used unscaled (like ``grid``), treated as a plane point x.
    The projections are p_k = <x, a_k> with a1 = (1, 0), a2 = (-1/2, sqrt(3)/2),
    a3 = (-1/2, -sqrt(3)/2), and the frequencies w_s those of ``grid`` (no 2*pi factor).
    Output: (N, 6S) laid out scale-major, then k, then (sin, cos):
    [sin(p1*w0), cos(p1*w0), sin(p2*w0), cos(p2*w0), sin(p3*w0), cos(p3*w0), sin(p1*w1), ...].
    Phases are computed in float64 (csp-spec.md section 9 item 1).
    """

    def __init__(self, config: TheoryConfig) -> None:
        super().__init__(config)
        freqs = geometric_frequencies(config.frequency_num, config.min_radius, config.max_radius)
        self.register_float64_buffer("frequencies", freqs)
        half_sqrt3 = math.sqrt(3.0) / 2.0
        # Columns are a1, a2, a3: x @ directions gives the three projections (N, 3).
        directions = torch.tensor([[1.0, -0.5, -0.5], [0.0, half_sqrt3, -half_sqrt3]], dtype=torch.float64)
        self.register_float64_buffer("directions", directions)
        self.out_dim = config.feature_dim

    def forward(self, lonlat: Tensor) -> Tensor:
        projection = lonlat.to(torch.float64) @ self.directions  # (N, 3)
        phase = projection.unsqueeze(-2) * self.frequencies.unsqueeze(-1)  # (N, S, 3)
        return sin_cos_interleaved(phase, lonlat.dtype).reshape(lonlat.shape[0], self.out_dim)
