"""Space2Vec "grid" position encoder: the one used by every CSP result (csp-spec.md section 1.2)."""

import torch
from torch import Tensor

from ...config import LocationEncoderConfig
from .base import PositionEncoder, geometric_frequencies, register_position_encoder, sin_cos_interleaved

__all__ = ["GridPositionEncoder"]


@register_position_encoder("grid")
class GridPositionEncoder(PositionEncoder):
    """sin/cos of raw degrees times S geometric frequencies, per coordinate.

    Input: (N, 2) [lon, lat] degrees, used unscaled (CSP's convention).
    Output: (N, 4S) laid out coordinate-major, then scale, then (sin, cos):
    [sin(lon*w0), cos(lon*w0), sin(lon*w1), ..., sin(lat*w0), cos(lat*w0), ...].
    Phases are computed in float64 (csp-spec.md section 9 item 1).
    """

    def __init__(self, config: LocationEncoderConfig) -> None:
        super().__init__(config)
        freqs = geometric_frequencies(config.frequency_num, config.min_radius, config.max_radius)
        self.register_float64_buffer("frequencies", freqs)
        self.out_dim = 4 * config.frequency_num

    def forward(self, lonlat: Tensor) -> Tensor:
        phase = lonlat.to(torch.float64).unsqueeze(-1) * self.frequencies  # (N, 2, S)
        return sin_cos_interleaved(phase, lonlat.dtype).reshape(lonlat.shape[0], self.out_dim)
