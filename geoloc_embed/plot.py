"""Plots of location embeddings (optional extra ``plot``: ``pip install "geoloc-embed[plot]"``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .io import atomic_path

__all__ = ["embedding_pca_rgb", "embedding_pca_map"]


def embedding_pca_rgb(model: Any, resolution: float = 1.0, *, batch_size: int = 65536,
                      clip_percentile: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """World grid of the first three principal components of ``model``'s embeddings as RGB.

    Args:
        model: anything with ``encode(coords, order="lonlat")`` (a ``LocationEncoder``).
        resolution: grid spacing in degrees; cell centres, (180/res) x (360/res) cells.
        clip_percentile: each component is scaled to [0, 1] between this percentile and its complement.

    Returns:
        (rgb (H, W, 3) float in [0, 1], row 0 = north; explained-variance ratios of the 3 components).
    """
    if not 0 < resolution <= 45:
        raise ValueError(f"resolution must be in (0, 45] degrees, got {resolution}")
    n_lat = int(round(180.0 / resolution))
    n_lon = int(round(360.0 / resolution))
    lat = 90.0 - (np.arange(n_lat) + 0.5) * (180.0 / n_lat)
    lon = -180.0 + (np.arange(n_lon) + 0.5) * (360.0 / n_lon)
    lon_g, lat_g = np.meshgrid(lon, lat)
    coords = np.stack([lon_g.ravel(), lat_g.ravel()], axis=1)
    emb = np.asarray(model.encode(coords, order="lonlat", batch_size=batch_size), dtype=np.float64)
    emb = emb - emb.mean(axis=0)
    # PCA on an area-weighted subsample would be fancier; cos(lat) weights keep the poles from dominating
    w = np.sqrt(np.cos(np.radians(coords[:, 1])))[:, None]
    _, s, vt = np.linalg.svd(emb * w, full_matrices=False)
    k = min(3, vt.shape[0])
    pcs = emb @ vt[:k].T
    if k < 3:
        pcs = np.concatenate([pcs, np.zeros((pcs.shape[0], 3 - k))], axis=1)
    lo = np.percentile(pcs, clip_percentile, axis=0)
    hi = np.percentile(pcs, 100.0 - clip_percentile, axis=0)
    rgb = np.clip((pcs - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0).reshape(n_lat, n_lon, 3)
    var = s ** 2
    ratios = np.zeros(3)
    ratios[:k] = var[:k] / var.sum() if var.sum() > 0 else 0.0
    return rgb, ratios


def embedding_pca_map(model: Any, out_png: Union[str, Path, None] = None, resolution: float = 1.0, *,
                      title: Optional[str] = None, dpi: int = 100, figsize: tuple[float, float] = (9.0, 4.8)) -> Any:
    """World map (plate carrée) of the first 3 PCA components of the embeddings shown as RGB.

    Similar colours mean similar embeddings. Saves a PNG to ``out_png`` (written atomically) when
    given and returns the matplotlib ``Figure``. Needs matplotlib (``pip install "geoloc-embed[plot]"``).
    """
    try:
        import matplotlib

        if out_png is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('embedding_pca_map needs matplotlib: pip install "geoloc-embed[plot]"') from None
    rgb, ratios = embedding_pca_rgb(model, resolution)
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    ax.imshow(rgb, extent=(-180, 180, -90, 90), origin="upper", interpolation="nearest")
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_xticks(range(-180, 181, 60))
    ax.set_yticks(range(-90, 91, 30))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.grid(color="white", alpha=0.25, linewidth=0.5)
    name = title or "location embedding"
    ax.set_title(f"{name}: PCA 1-3 as RGB (explained variance "
                 f"{ratios[0]:.0%} / {ratios[1]:.0%} / {ratios[2]:.0%}), {resolution:g}° grid", fontsize=9)
    fig.tight_layout()
    if out_png is not None:
        out_png = Path(out_png)
        out_png.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out_png) as tmp:
            fig.savefig(str(tmp), format="png", dpi=dpi)
        plt.close(fig)
    return fig
