"""Space2Vec "grid" position encoder: the one used by every CSP result (csp-spec.md section 1.2)."""

import torch
from torch import Tensor

from ...config import GridConfig
from .._inplace import may_overwrite
from .base import _SIN_COS_SHIFT, PositionEncoder, geometric_frequencies, register_position_encoder, sin_cos_interleaved

__all__ = ["GridPositionEncoder"]


@register_position_encoder("grid")
class GridPositionEncoder(PositionEncoder):
    """sin/cos of raw degrees times S geometric frequencies, per coordinate.

    Input: (N, 2) [lon, lat] degrees, used unscaled (CSP's convention).
    Output: (N, 4S) laid out coordinate-major, then scale, then (sin, cos):
    [sin(lon*w0), cos(lon*w0), sin(lon*w1), ..., sin(lat*w0), cos(lat*w0), ...].
    Phases are computed in float64 (csp-spec.md section 9 item 1).

    On the CPU (and in float64) the phases of the whole row are formed in one pass as
    ``x * w_s + (0 | pi/2)`` against frequencies repeated per (sin, cos) pair, so cos is
    sin(phase + pi/2) exactly as in ``sin_cos_interleaved``, without a narrow broadcast.
    """

    def __init__(self, config: GridConfig) -> None:
        super().__init__(config)
        freqs = geometric_frequencies(config.frequency_num, config.min_radius, config.max_radius)
        self.register_float64_buffer("frequencies", freqs)
        # (2S,): [w0, w0, w1, w1, ...] and [0, pi/2, 0, pi/2, ...]
        self.register_float64_buffer("paired_frequencies", freqs.repeat_interleave(2))
        self.register_float64_buffer("paired_shifts", _SIN_COS_SHIFT.repeat(len(freqs)))
        self.out_dim = config.feature_dim

    @staticmethod
    def _reduces_phases(lonlat: Tensor) -> bool:
        """True on accelerators in float32/16: phases reduced mod 2 pi, sin/cos in ``lonlat.dtype``."""
        return lonlat.device.type != "cpu" and lonlat.dtype != torch.float64

    frequencies: Tensor  # buffers registered in __init__ (annotated for type checkers)
    paired_frequencies: Tensor
    paired_shifts: Tensor

    def forward(self, lonlat: Tensor) -> Tensor:
        """(N, 2) [lon, lat] degrees -> (N, 4S) features in ``lonlat.dtype``.

        When autograd does not record (``may_overwrite``) sin runs in place on the fresh float64
        phase tensor; the values are the same either way.
        """
        n = lonlat.shape[0]
        if self._reduces_phases(lonlat):
            phase = lonlat.to(torch.float64).unsqueeze(-1) * self.frequencies  # (N, 2, S)
            return sin_cos_interleaved(phase, lonlat.dtype).reshape(n, self.out_dim)
        phase = torch.addcmul(self.paired_shifts, lonlat.to(torch.float64).unsqueeze(-1),
                              self.paired_frequencies)  # (N, 2, 2S)
        features = torch.sin(phase, out=phase if may_overwrite(lonlat) else None)
        return features.to(lonlat.dtype).reshape(n, self.out_dim)
