"""Train / validation / test splits: spatially blocked (whole equal-area cells held out) and random."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["equal_area_block_ids", "blocked_split", "random_split", "make_split"]


def equal_area_block_ids(lonlat: np.ndarray, block_deg: float = 10.0) -> np.ndarray:
    """Equal-area block id of each point.

    The sphere is cut into ``round(360 / block_deg)`` longitude sectors and ``round(2 / radians(block_deg))``
    bands of equal height in sin(latitude) (Lambert cylindrical equal-area), so every block has the same
    area: about block_deg x block_deg at the equator (10 degrees: 36 x 11 = 396 blocks of ~1.29 million
    km^2). Towards the poles the blocks grow taller in latitude and narrower on the ground.
    """
    if block_deg <= 0 or block_deg > 180:
        raise ValueError(f"block_deg must be in (0, 180], got {block_deg}")
    lonlat = np.asarray(lonlat, dtype=np.float64)
    n_lon = max(1, int(round(360.0 / block_deg)))
    n_band = max(1, int(round(2.0 / math.radians(block_deg))))
    col = np.floor(((lonlat[:, 0] + 180.0) % 360.0) / 360.0 * n_lon).astype(np.int64) % n_lon
    z = np.sin(np.radians(lonlat[:, 1]))
    row = np.clip(np.floor((z + 1.0) / 2.0 * n_band).astype(np.int64), 0, n_band - 1)
    return row * n_lon + col


def _assign_by_fraction(n_points_per_unit: np.ndarray, order: np.ndarray, val_frac: float,
                        test_frac: float) -> np.ndarray:
    """Fold (0 train, 1 val, 2 test) of each unit, filling test then val greedily in ``order``."""
    total = float(n_points_per_unit.sum())
    fold = np.zeros(n_points_per_unit.size, dtype=np.int64)
    filled_test = filled_val = 0.0
    for unit in order:
        count = n_points_per_unit[unit]
        if filled_test < test_frac * total:
            fold[unit] = 2
            filled_test += count
        elif filled_val < val_frac * total:
            fold[unit] = 1
            filled_val += count
    return fold


def blocked_split(lonlat: np.ndarray, seed: int, *, block_deg: float = 10.0, val_frac: float = 0.2,
                  test_frac: float = 0.2) -> dict[str, np.ndarray]:
    """Hold out whole equal-area blocks: the blocks are shuffled (fixed seed) and assigned to test until
    they hold ``test_frac`` of the points, then to validation, the rest to training. No block is shared
    between folds, so a test point's neighbours within its block are never seen in training."""
    blocks = equal_area_block_ids(lonlat, block_deg)
    uniq, inverse, counts = np.unique(blocks, return_inverse=True, return_counts=True)
    rng = np.random.Generator(np.random.PCG64(seed))
    order = rng.permutation(uniq.size)
    fold_of_block = _assign_by_fraction(counts, order, val_frac, test_frac)
    fold = fold_of_block[inverse]
    return {"train": np.flatnonzero(fold == 0), "val": np.flatnonzero(fold == 1),
            "test": np.flatnonzero(fold == 2), "blocks": blocks}


def random_split(n: int, seed: int, *, val_frac: float = 0.2, test_frac: float = 0.2) -> dict[str, np.ndarray]:
    """Points shuffled with a fixed seed and cut into test, validation and training fractions."""
    rng = np.random.Generator(np.random.PCG64(seed))
    perm = rng.permutation(n)
    n_test = int(round(test_frac * n))
    n_val = int(round(val_frac * n))
    return {"test": np.sort(perm[:n_test]), "val": np.sort(perm[n_test:n_test + n_val]),
            "train": np.sort(perm[n_test + n_val:])}


def make_split(kind: str, lonlat: np.ndarray, seed: int, *, block_deg: float = 10.0, val_frac: float = 0.2,
               test_frac: float = 0.2) -> dict[str, np.ndarray]:
    if kind == "blocked":
        return blocked_split(lonlat, seed, block_deg=block_deg, val_frac=val_frac, test_frac=test_frac)
    if kind == "random":
        return random_split(len(lonlat), seed, val_frac=val_frac, test_frac=test_frac)
    raise ValueError(f"unknown split {kind!r}; choose 'blocked' or 'random'")
