"""Multi-channel patches of the field stack around points, and the frozen "image" features F(I).

A patch is a ``size x size`` window of a (C, H, W) equirectangular grid centred on a point:
columns wrap at the antimeridian, rows beyond a pole are reflected across it with a half-turn of
longitude (where a step over the pole really lands), so patches are continuous everywhere on the
sphere.

The image encoder F is fixed (no training): for each of several scales (the 0.25-degree grid and
coarser block means of it) it concatenates

* per-channel summary statistics of the patch: mean over the whole window, mean over its central
  quarter, and standard deviation (3 C features);
* random convolutional features in the manner of MOSAIKS (Rolf et al., Nat. Commun. 12, 4392,
  2021): K filters of 3 x 3 x C cut from the stack at random places and normalised, applied with
  both signs, ``relu(+-(w * x) - bias)`` averaged over the window (2 K features).

Features are standardised over the training points (``standardise_features``).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .fields import GRID_DEG

__all__ = ["patch_indices", "extract_patches", "coarsen", "RandomConvFeatures", "image_features",
           "standardise_features"]


def patch_indices(lonlat: np.ndarray, size: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, size, size) row and column indices of the windows centred at ``lonlat`` (degrees).

    The grid has ``height`` rows from lat 90 (row 0) to -90 and ``width`` columns from lon -180.
    """
    if size < 1:
        raise ValueError(f"patch size must be positive, got {size}")
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    row = (90.0 - lonlat[:, 1]) * (height / 180.0)
    col = (lonlat[:, 0] + 180.0) * (width / 360.0)
    r0 = np.floor(row - size / 2.0 + 0.5).astype(np.int64)
    c0 = np.floor(col - size / 2.0 + 0.5).astype(np.int64)
    off = np.arange(size, dtype=np.int64)
    rows = np.broadcast_to(r0[:, None, None] + off[None, :, None], (len(r0), size, size))
    cols = np.broadcast_to(c0[:, None, None] + off[None, None, :], (len(r0), size, size))
    north, south = rows < 0, rows >= height
    rows = np.where(north, -1 - rows, np.where(south, 2 * height - 1 - rows, rows))
    cols = np.where(north | south, cols + width // 2, cols)
    return np.clip(rows, 0, height - 1), np.mod(cols, width)


def extract_patches(grid: np.ndarray, lonlat: np.ndarray, size: int) -> np.ndarray:
    """(N, C, size, size) windows of a (C, H, W) grid centred at each [lon, lat] (degrees)."""
    c, h, w = grid.shape
    rows, cols = patch_indices(lonlat, size, h, w)
    return np.ascontiguousarray(grid[:, rows, cols].transpose(1, 0, 2, 3))


def coarsen(grid: np.ndarray, factor: int) -> np.ndarray:
    """Block means of a (C, H, W) grid over ``factor x factor`` cells -> (C, H/f, W/f)."""
    c, h, w = grid.shape
    if h % factor or w % factor:
        raise ValueError(f"grid {h}x{w} is not divisible by {factor}")
    return grid.reshape(c, h // factor, factor, w // factor, factor).mean(axis=(2, 4))


class RandomConvFeatures:
    """MOSAIKS-style random convolutional features of (N, C, P, P) patches -> (N, 2 K)."""

    def __init__(self, grid: np.ndarray, num_filters: int, *, kernel: int = 3, bias: float = 1.0,
                 seed: int = 0) -> None:
        c, h, w = grid.shape
        rng = np.random.default_rng(seed)
        # filters cut from random places of the grid (uniform on the sphere: rows ~ cos(lat))
        u = rng.random((num_filters, 2))
        lon = u[:, 0] * 360.0 - 180.0
        lat = np.degrees(np.arcsin(2.0 * u[:, 1] - 1.0))
        filt = extract_patches(grid, np.stack([lon, lat], 1), kernel).astype(np.float64)
        filt = filt - filt.mean(axis=(1, 2, 3), keepdims=True)
        filt /= np.linalg.norm(filt.reshape(num_filters, -1), axis=1)[:, None, None, None] + 1e-6
        # with unit-norm filters on z-scored channels a response has spread ~ sqrt(C * k * k) / k ...:
        # scale so that typical responses are O(1) and the bias sits at about one standard deviation
        self.weight = torch.from_numpy((filt * kernel).astype(np.float32))
        self.bias = float(bias)

    @torch.no_grad()
    def __call__(self, patches: Tensor) -> Tensor:
        r = F.conv2d(patches, self.weight)
        pos = torch.relu(r - self.bias).mean(dim=(2, 3))
        neg = torch.relu(-r - self.bias).mean(dim=(2, 3))
        return torch.cat([pos, neg], dim=1)


def _stats(p: Tensor) -> Tensor:
    size = p.shape[-1]
    lo, hi = size // 4, size - size // 4
    return torch.cat([p.mean(dim=(2, 3)), p[:, :, lo:hi, lo:hi].mean(dim=(2, 3)), p.std(dim=(2, 3))], dim=1)


@torch.no_grad()
def image_features(grid: np.ndarray, lonlat: np.ndarray, *, scales: Sequence[int] = (1, 4), patch: int = 12,
                   num_filters: int = 64, seed: int = 0, chunk: int = 4096,
                   rcf: Optional[Sequence[Optional[RandomConvFeatures]]] = None) -> Tensor:
    """F(I) for every point: per scale (block factor of the 0.25-degree grid), stats + random conv
    features of the ``patch x patch`` window. Returns (N, F) float32 (unstandardised).

    ``num_filters = 0`` keeps only the statistics.
    """
    grids = [grid if s == 1 else coarsen(grid, s) for s in scales]
    if rcf is None:
        rcf = [RandomConvFeatures(g, num_filters, seed=seed + 17 * i) if num_filters else None
               for i, g in enumerate(grids)]
    out = []
    for lo in range(0, len(lonlat), chunk):
        ll = lonlat[lo:lo + chunk]
        parts = []
        for g, f in zip(grids, rcf, strict=True):
            p = torch.from_numpy(extract_patches(g, ll, patch))
            parts.append(_stats(p))
            if f is not None:
                parts.append(f(p))
        out.append(torch.cat(parts, dim=1))
    return torch.cat(out)


def standardise_features(x: Tensor) -> Tensor:
    """Column z-scores (constant columns stay 0)."""
    return (x - x.mean(0)) / x.std(0).clamp_min(1e-6)


_ = GRID_DEG  # the grid these scales refer to
