"""Pre-training points and their frozen features (the "images" of CSP).

Points: ``num_points`` on the sphere, a ``land_fraction`` share drawn uniformly over land (cells
whose MODIS water fraction is below one half) and the rest uniformly over the whole sphere, all
from ``geoloc_embed.coords.sample_uniform_sphere`` with seeded generators. No gazetteer, no label.

Features: ``patches.image_features`` of the standardised field stack (the groups the recipe names),
plus, when ``position_sh_degree`` > 0, a smooth *positional descriptor* of the patch centre: the
orthonormal real spherical harmonics of degrees 1 .. L-1 (``L**2 - 1`` functions; the constant is
dropped), standardised like every other column and scaled by ``position_weight``. It plays the role of
the geotag that real images carry: matching it forces the location encoder to keep a smooth,
well-spread positional basis next to what the fields say, instead of collapsing every stretch of
homogeneous ocean onto one direction.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from geoloc_embed.coords import sample_uniform_sphere
from geoloc_embed.encoders.positional.harmonics import real_spherical_harmonics

from .fields import GRID_DEG, GRID_H, GRID_W, load_fields, standardise
from .patches import image_features, standardise_features

__all__ = ["land_mask", "sample_points", "build_features", "cell_values", "position_descriptor"]


def cell_values(grid: np.ndarray, lonlat: np.ndarray) -> np.ndarray:
    """(N, C) values of the 0.25-degree cells containing each [lon, lat] of a (C, H, W) grid."""
    lonlat = np.asarray(lonlat, dtype=np.float64)
    r = np.clip(((90.0 - lonlat[:, 1]) / GRID_DEG).astype(np.int64), 0, GRID_H - 1)
    c = np.clip(((lonlat[:, 0] + 180.0) / GRID_DEG).astype(np.int64), 0, GRID_W - 1)
    return grid[:, r, c].T


def land_mask() -> np.ndarray:
    """(H, W) bool: cells whose MODIS IGBP water fraction is below 0.5."""
    stack = load_fields(["landcover"])
    water = stack.data[stack.names.index("igbp_00")]
    return water < 0.5


def sample_points(num_points: int, land_fraction: float, seed: int) -> np.ndarray:
    """(num_points, 2) float64 [lon, lat]: a ``land_fraction`` share uniform over land, the rest
    uniform on the sphere; rows shuffled. Deterministic for ``seed``."""
    if not 0.0 <= land_fraction <= 1.0:
        raise ValueError(f"land_fraction must be in [0, 1], got {land_fraction}")
    g = torch.Generator().manual_seed(int(seed))
    n_land = int(round(num_points * land_fraction))
    parts = [sample_uniform_sphere(num_points - n_land, generator=g, dtype=torch.float64).numpy()]
    if n_land:
        mask = land_mask()
        got: list[np.ndarray] = []
        have = 0
        while have < n_land:  # ~29 % of the sphere is land: a few rounds of 4x oversampling
            cand = sample_uniform_sphere(4 * n_land, generator=g, dtype=torch.float64).numpy()
            keep = cand[cell_values(mask[None].astype(np.float32), cand)[:, 0] > 0.5]
            got.append(keep)
            have += len(keep)
        parts.append(np.concatenate(got)[:n_land])
    pts = np.concatenate(parts)
    return pts[torch.randperm(num_points, generator=g).numpy()]


def position_descriptor(lonlat: np.ndarray, degree: int) -> torch.Tensor:
    """(N, degree**2 - 1) float32 orthonormal real spherical harmonics of degrees 1..degree-1 at
    ``lonlat`` (degrees), unstandardised. ``degree = 0`` gives (N, 0)."""
    if degree <= 1:
        return torch.zeros(len(lonlat), 0)
    sh = real_spherical_harmonics(torch.from_numpy(np.asarray(lonlat, dtype=np.float64)), int(degree), m0_scale=1.0)
    return sh[:, 1:].float()


def _cache_key(data_cfg: dict, seed: int) -> str:
    fields_cfg = {k: v for k, v in data_cfg.items() if not k.startswith("position_")}
    blob = json.dumps({"data": fields_cfg, "seed": seed, "v": 1}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _field_features(data_cfg: dict, seed: int, cache_dir: Union[str, Path, None],
                    log: Optional[Callable[[str], None]]) -> dict[str, Any]:
    path = Path(cache_dir) / f"features-{_cache_key(data_cfg, seed)}.pt" if cache_dir is not None else None
    if path is not None and path.is_file():
        blob = torch.load(path, weights_only=True)
        if log:
            log(f"field features {tuple(blob['features'].shape)} from cache {path.name}")
        return {"lonlat": blob["lonlat"].numpy(), "features": blob["features"], "channels": blob["channels"]}
    stack = load_fields(data_cfg["groups"])
    z, _, _ = standardise(stack)
    lonlat = sample_points(data_cfg["num_points"], data_cfg["land_fraction"], seed)
    feats = image_features(z, lonlat, scales=data_cfg["scales"], patch=data_cfg["patch"],
                           num_filters=data_cfg["num_filters"], seed=seed)
    feats = standardise_features(feats).contiguous()
    out = {"lonlat": lonlat, "features": feats, "channels": list(stack.names)}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"lonlat": torch.from_numpy(lonlat), "features": feats, "channels": out["channels"]}, tmp)
        tmp.replace(path)
    if log:
        log(f"field features {tuple(feats.shape)} from {len(stack.names)} channels")
    return out


def build_features(data_cfg: dict, seed: int, *, cache_dir: Union[str, Path, None] = None,
                   log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Points and standardised features for a recipe's ``data`` section.

    Returns ``{"lonlat": (N, 2) float64, "features": (N, F) float32 tensor, "channels": [...]}``.
    The field part is cached as ``<cache_dir>/features-<hash>.pt`` when ``cache_dir`` is given.
    """
    out = _field_features(data_cfg, seed, cache_dir, log)
    degree = int(data_cfg.get("position_sh_degree", 0))
    if degree > 1:
        pos = standardise_features(position_descriptor(out["lonlat"], degree))
        out["features"] = torch.cat([out["features"], pos * float(data_cfg.get("position_weight", 1.0))],
                                    dim=1).contiguous()
    return out
