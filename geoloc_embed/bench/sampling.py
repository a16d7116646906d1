"""The benchmark's points: each task's fixed-seed sample and the map grid, with their labels cached.

Labels are cached under ``$GEOLOC_EMBED_CACHE/bench/labels/<task>/`` as ``.npz`` files keyed on the
task's name and version, its data package's version, the sample size and seed (or the grid
resolution) and ``SAMPLER_ID``.
"""

from __future__ import annotations

import numpy as np

from .data import bench_cache_dir, cache_key, load_cached_arrays, save_cached_arrays
from .tasks import Task

__all__ = ["SAMPLER_ID", "cached_sample", "grid_points", "cached_grid_labels"]

#: Identifies the point sampler in label-cache keys; change it if sampling changes.
SAMPLER_ID = "uniform-sphere-coords-torch-v2"  # v2: geoloc_embed.coords.sample_uniform_sphere (v1: numpy PCG64)


def cached_sample(task: Task, n: int, seed: int, *, use_cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The task's points and labels for (n, seed), from ``$GEOLOC_EMBED_CACHE/bench/labels`` when cached."""
    key = cache_key({"task": task.name, "task_version": task.version, "data": task.data_version(), "n": n,
                     "seed": seed, "sampler": SAMPLER_ID})
    path = bench_cache_dir() / "labels" / task.name / f"n{n}-seed{seed}-{key}.npz"
    if use_cache:
        cached = load_cached_arrays(path)
        if cached is not None and "lonlat" in cached and "y" in cached:
            return cached["lonlat"], cached["y"]
    lonlat, y = task.sample(n, seed)
    if use_cache:
        save_cached_arrays(path, lonlat=lonlat, y=y)
    return lonlat, y


def grid_points(res_deg: float) -> tuple[np.ndarray, int, int]:
    """Cell centres of a global lon/lat grid, rows from north to south; returns (points, n_rows, n_cols)."""
    n_cols = max(2, int(round(360.0 / res_deg)))
    n_rows = max(1, int(round(180.0 / res_deg)))
    lon = -180.0 + (np.arange(n_cols) + 0.5) * (360.0 / n_cols)
    lat = 90.0 - (np.arange(n_rows) + 0.5) * (180.0 / n_rows)
    lon_g, lat_g = np.meshgrid(lon, lat)
    return np.stack([lon_g.ravel(), lat_g.ravel()], axis=1), n_rows, n_cols


def cached_grid_labels(task: Task, res_deg: float, *, use_cache: bool = True) -> np.ndarray:
    """The task's labels at the cell centres of ``grid_points(res_deg)`` (N,), cached like samples."""
    pts, _, _ = grid_points(res_deg)
    key = cache_key({"task": task.name, "task_version": task.version, "data": task.data_version(),
                     "grid": res_deg})
    path = bench_cache_dir() / "labels" / task.name / f"grid{res_deg:g}-{key}.npz"
    if use_cache:
        cached = load_cached_arrays(path)
        if cached is not None and "y" in cached:
            return cached["y"]
    y = task.labels(pts)
    if use_cache:
        save_cached_arrays(path, y=y)
    return y
