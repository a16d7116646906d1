"""Simple position encoders: wrap, rbf, rff and tile (csp-spec.md section 1.3, section 9 items 11-14).

``rbf`` and ``rff`` hold fixed random tensors drawn from a private, seeded ``torch.Generator`` (two
fresh models from the same config agree, and the global RNG is neither used nor advanced); they are
persistent buffers, so they are saved with the weights and a converted checkpoint can overwrite them.
``tile`` holds a learned embedding table (a parameter, initialised like ``nn.Embedding``).
"""

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ...config import RBFConfig, RFFConfig, TileConfig, WrapConfig
from ...coords import sample_uniform_sphere
from ...errors import CoordinateError
from .base import TWO_PI, PositionEncoder, register_position_encoder, sin_cos

__all__ = [
    "WrapPositionEncoder",
    "RBFPositionEncoder",
    "RFFPositionEncoder",
    "TilePositionEncoder",
]

#: Seeds of the default random tensors. Changing them changes every untrained rbf/rff model.
_RBF_ANCHOR_SEED = 20230501
_RFF_SEED = 20230502


class _PinnedDtypeBuffers(PositionEncoder):
    """Keeps the persistent buffers named in ``_pinned_dtypes`` at their dtype under ``.half()`` etc.

    ``.to(device)`` still moves them. Anchors in degrees would lose whole tenths of a degree in
    float16, and rff directions must stay the float32 values a checkpoint holds.
    """

    _pinned_dtypes: ClassVar[dict[str, torch.dtype]] = {}

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        saved = {name: self._buffers[name] for name in self._pinned_dtypes if self._buffers.get(name) is not None}
        super()._apply(fn, recurse)
        for name, before in saved.items():
            after = self._buffers[name]
            dtype = self._pinned_dtypes[name]
            if after is not None and after.dtype != dtype:
                self._buffers[name] = before.to(device=after.device, dtype=dtype)
        return self


@register_position_encoder("wrap")
class WrapPositionEncoder(PositionEncoder):
    """geo_prior's "wrap" encoding: (N, 4) [sin(pi*lon/180), sin(pi*lat/90), cos(pi*lon/180), cos(pi*lat/90)].

    Always normalised against the whole world (lon/180, lat/90), whatever ``config.map_range`` says
    (csp-spec.md section 9 item 12). Used with FCNet (``wrap``) or CSP's FFN (``wrap_ffn``).
    """

    def __init__(self, config: WrapConfig) -> None:
        super().__init__(config)
        self.register_float64_buffer("scale", torch.tensor([math.pi / 180.0, math.pi / 90.0], dtype=torch.float64))
        self.out_dim = config.feature_dim

    scale: Tensor  # buffer registered in __init__ (annotated for type checkers)

    def forward(self, lonlat: Tensor) -> Tensor:
        phase = lonlat.to(torch.float64) * self.scale  # (N, 2)
        sin, cos = sin_cos(phase, lonlat.dtype)
        return torch.cat((sin, cos), dim=-1)


@register_position_encoder("rbf")
class RBFPositionEncoder(_PinnedDtypeBuffers):
    """Gaussian radial basis functions around M anchors: (N, M) exp(-||x - a_m||^2 / (2 sigma^2)).

    x and a_m are [lon, lat] degree pairs and the distance is the plane Euclidean distance in degrees
    (as in Space2Vec/TorchSpatial); sigma = ``config.rbf_kernel_size`` degrees, M = ``config.num_anchors``.
    The anchors are the persistent float64 buffer ``anchors`` (M, 2). By default they are drawn
    uniformly on the sphere with a fixed seed; the published models draw them from the training
    locations instead: use ``set_anchors`` with (a random subset of) your training points.
    TorchSpatial's rbf checkpoints store only indices into their training set, so they cannot be rebuilt.
    """

    _pinned_dtypes = {"anchors": torch.float64}

    config: RBFConfig

    def __init__(self, config: RBFConfig) -> None:
        super().__init__(config)
        generator = torch.Generator().manual_seed(_RBF_ANCHOR_SEED)
        anchors = sample_uniform_sphere(config.num_anchors, generator=generator, dtype=torch.float64)
        self.register_buffer("anchors", anchors)
        self.out_dim = config.feature_dim

    anchors: Tensor  # buffer registered in __init__ (annotated for type checkers)

    @torch.no_grad()
    def set_anchors(self, anchors: Any) -> None:
        """Replace the anchors by a (M, 2) [lon, lat] degrees array-like, M = ``config.num_anchors``.

        The buffer keeps its device and float64 dtype. Raises ``CoordinateError`` for a wrong shape,
        non-finite values or coordinates outside lon [-180, 180], lat [-90, 90].
        """
        value = torch.as_tensor(anchors).detach()
        if not (value.is_floating_point() or value.dtype in (torch.int16, torch.int32, torch.int64)):
            raise CoordinateError(f"rbf anchors must be numbers, got dtype {value.dtype}")
        value = value.to(device="cpu", dtype=torch.float64)
        expected = (self.config.num_anchors, 2)
        if tuple(value.shape) != expected:
            raise CoordinateError(
                f"rbf anchors must have shape {expected} ([lon, lat] degrees, M = config.num_anchors), "
                f"got {tuple(value.shape)}; build the encoder with num_anchors={value.shape[0] if value.ndim else 0} "
                "or pass that many anchors")
        if not torch.isfinite(value).all():
            raise CoordinateError("rbf anchors contain NaN or infinite values")
        if (value[:, 0].abs() > 180.0).any() or (value[:, 1].abs() > 90.0).any():
            raise CoordinateError(
                "rbf anchors must be [lon, lat] degrees with lon in [-180, 180] and lat in [-90, 90] "
                "(is the order [lat, lon]?)")
        self.anchors.copy_(value.to(self.anchors.device))

    def forward(self, lonlat: Tensor) -> Tensor:
        x = lonlat.to(torch.float64)
        anchors = self.anchors.to(torch.float64)
        dlon = x[:, 0:1] - anchors[:, 0]  # (N, M)
        dlat = x[:, 1:2] - anchors[:, 1]
        sigma = self.config.rbf_kernel_size
        # Differences in float64 (anchors are float64 degrees); the exponent e >= 0 then only needs
        # the output precision: exp(-e) * e * eps is below eps for every e.
        exponent = ((dlon * dlon + dlat * dlat) * (-0.5 / (sigma * sigma))).to(lonlat.dtype)
        return torch.exp(exponent)

    def extra_repr(self) -> str:
        return f"out_dim={self.out_dim}, sigma={self.config.rbf_kernel_size}"


@register_position_encoder("rff")
class RFFPositionEncoder(_PinnedDtypeBuffers):
    """Random Fourier features of min-max scaled coordinates: (N, D) sqrt(2/D) * cos(x' @ dirvec + shift).

    x' maps ``config.map_range`` (lon_min, lon_max, lat_min, lat_max) linearly onto [-1, 1] per
    coordinate, without clipping (points outside the box map outside [-1, 1]; csp-spec.md section 9
    item 11). D = ``config.frequency_num``. The persistent float32 buffers ``dirvec`` (2, D), drawn
    N(0, sigma^2) with sigma = ``config.rff_sigma``, and ``shift`` (D,), drawn U(0, 2*pi), come from a
    fixed seed (or a converted checkpoint). For float32 (and lower) input the features are computed in
    float32 like the authors' code; float64 input is computed in float64.
    """

    _pinned_dtypes = {"dirvec": torch.float32, "shift": torch.float32}

    def __init__(self, config: RFFConfig) -> None:
        super().__init__(config)
        num = config.frequency_num
        generator = torch.Generator().manual_seed(_RFF_SEED)
        dirvec = torch.randn(2, num, dtype=torch.float64, generator=generator) * config.rff_sigma
        shift = torch.rand(num, dtype=torch.float64, generator=generator) * TWO_PI
        self.register_buffer("dirvec", dirvec.to(torch.float32))
        self.register_buffer("shift", shift.to(torch.float32))
        lon_min, lon_max, lat_min, lat_max = config.map_range
        self.register_float64_buffer("range_min", torch.tensor([lon_min, lat_min], dtype=torch.float64))
        self.register_float64_buffer("range_size", torch.tensor([lon_max - lon_min, lat_max - lat_min],
                                                                dtype=torch.float64))
        self.out_dim = num

    dirvec: Tensor  # buffers registered in __init__ (annotated for type checkers)
    shift: Tensor
    range_min: Tensor
    range_size: Tensor

    def forward(self, lonlat: Tensor) -> Tensor:
        """(N, 2) [lon, lat] degrees -> (N, D) in ``lonlat.dtype``, with the authors' arithmetic.

        TorchSpatial computes x' in float64 (``coord_normalize``: (x - min) / (max - min) * 2 - 1, here
        2 (x - min) / (max - min) - 1, the same bits since doubling is exact), casts it to float32 and
        then takes ``cos(x' @ dirvec + shift) * sqrt(2 / D)`` in float32 (csp-spec.md section 9 item 11).
        Its matrix product of inner size 2 is, in sgemm (CPU BLAS and cuBLAS alike), a chain of fused
        multiply-adds: round(round(x0 * d0) + x1 * d1). That is evaluated here exactly, without a
        matmul, so TF32 or reduced-precision matmul settings cannot change it: float32 products are
        exact in float64, so ``round32(round32(x0 d0) + x1 d1)`` is one float64 sum rounded to
        float32 (a double rounding differs from the fused result only on exact ties, about one case
        in 2**29). Float64 input is computed in float64 throughout.
        """
        scaled = 2.0 * (lonlat.to(torch.float64) - self.range_min) / self.range_size - 1.0  # (N, 2) float64
        if lonlat.dtype == torch.float64:
            phase = scaled @ self.dirvec.to(torch.float64) + self.shift.to(torch.float64)
            return math.sqrt(2.0 / self.out_dim) * torch.cos(phase)
        x = scaled.to(torch.float32).to(torch.float64)  # the authors' float32 x'
        dirvec = self.dirvec.to(torch.float64)          # float32 values, exact in float64
        first = (x[:, 0:1] * dirvec[0]).to(torch.float32).to(torch.float64)  # round32(x0 * d0)
        product = torch.addcmul(first, x[:, 1:2], dirvec[1]).to(torch.float32)  # round32(first + x1 * d1)
        phase = product + self.shift.to(torch.float32)
        return (math.sqrt(2.0 / self.out_dim) * torch.cos(phase)).to(lonlat.dtype)


@register_position_encoder("tile")
class TilePositionEncoder(PositionEncoder):
    """A learned embedding per grid cell (TorchSpatial ``tile_ffn``): (N, ``config.tile_embed_dim``).

    ``config.map_range`` is cut into square cells of ``config.tile_size`` degrees: C = ceil(lon extent /
    size) columns and R = ceil(lat extent / size) rows. A point's cell is row-major,
    index = row * C + col with col = floor((lon - lon_min) / size), row = floor((lat - lat_min) / size),
    each clipped into [0, C-1] / [0, R-1], so points outside the box use the nearest edge cell.
    The table is the parameter ``embedding.weight`` (R * C, tile_embed_dim). The output does not depend
    continuously on the input, so no gradient flows to the coordinates.

    TorchSpatial defect (csp-spec.md section 9 item 13): its released tile checkpoints have a table of a
    single cell (``embedding.weight`` is 1 x d), so every location gets the same embedding. Reproduce
    them with a ``tile_size`` at least as large as both extents of ``map_range`` (one cell).
    """

    config: TileConfig

    def __init__(self, config: TileConfig) -> None:
        super().__init__(config)
        lon_min, _, lat_min, _ = config.map_range
        self.num_rows, self.num_cols = config.grid_shape  # the config bounds the table size
        self.register_float64_buffer("range_min", torch.tensor([lon_min, lat_min], dtype=torch.float64))
        self.embedding = nn.Embedding(self.num_rows * self.num_cols, config.tile_embed_dim)
        self.out_dim = config.tile_embed_dim

    range_min: Tensor  # buffer registered in __init__ (annotated for type checkers)

    def cell_index(self, lonlat: Tensor) -> Tensor:
        """(N,) int64 row-major cell index of each point, clipped into the grid."""
        cell = torch.floor((lonlat.detach().to(torch.float64) - self.range_min) / self.config.tile_size)
        # NaN would become an out-of-range index (a device-side assert on CUDA): use the first cell.
        cell = torch.nan_to_num(cell, nan=0.0)
        col = cell[:, 0].clamp(0, self.num_cols - 1).long()
        row = cell[:, 1].clamp(0, self.num_rows - 1).long()
        return row * self.num_cols + col

    def forward(self, lonlat: Tensor) -> Tensor:
        return self.embedding(self.cell_index(lonlat)).to(lonlat.dtype)

    def extra_repr(self) -> str:
        return f"out_dim={self.out_dim}, grid={self.num_rows}x{self.num_cols}, tile_size={self.config.tile_size}"
