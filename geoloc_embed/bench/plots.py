"""World maps for the benchmark (needs matplotlib: ``pip install "geoloc-embed[plot]"``).

Uses matplotlib's object-oriented API with the Agg canvas, so the caller's pyplot backend and
global state are left alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np

from ..io import atomic_path
from .models import Embedder
from .probes import Probe
from .sampling import grid_points
from .tasks import Task

__all__ = ["prediction_map", "pca_rgb_map", "pca_rgb", "safe_name"]


def safe_name(name: str) -> str:
    """``name`` reduced to a file-name-safe string (runs of other characters become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fig.savefig(fh, format="png", bbox_inches="tight")
    return path


def prediction_map(out_dir: Path, model: Embedder, task: Task, probe: Probe, truth: np.ndarray,
                   res_deg: float, grid_embeddings: Optional[np.ndarray] = None) -> Path:
    """Truth and the probe's prediction side by side on a global grid (undefined labels blank)."""
    pts, n_rows, n_cols = grid_points(res_deg)
    defined = task.defined(truth)
    pred = np.full(truth.shape, np.nan)
    if defined.any():
        emb = grid_embeddings[defined] if grid_embeddings is not None else model.embed(pts[defined])
        pred[defined] = probe.predict(emb)
    fig = _figure(13, 3.6)
    axes = fig.subplots(1, 2)
    extent = (-180, 180, -90, 90)
    if task.is_classification:
        cmap = "tab20"
        k = max(1, len(task.class_names or []))
        t_img = np.where(defined, truth % 20, np.nan).astype(float)
        p_img = np.where(defined, pred % 20, np.nan).astype(float)
        vmin, vmax = 0, min(19, k - 1) if k > 1 else 1
        label = "class (colours cycle every 20)"
    else:
        cmap = "viridis"
        t_img = np.where(defined, truth, np.nan).astype(float)
        p_img = pred
        finite = t_img[np.isfinite(t_img)]
        vmin, vmax = (np.percentile(finite, [1, 99]) if finite.size else (0, 1))
        label = task.units
    for ax, img, title in ((axes[0], t_img, f"{task.name}: truth"), (axes[1], p_img,
                                                                       f"{model.name}: {probe.name} probe")):
        im = ax.imshow(img.reshape(n_rows, n_cols), extent=extent, origin="upper", cmap=cmap, vmin=vmin,
                       vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([-180, -90, 0, 90, 180])
        ax.set_yticks([-90, 0, 90])
        ax.tick_params(labelsize=7)
    cbar = fig.colorbar(im, ax=list(axes), shrink=0.85, pad=0.01)
    cbar.set_label(label, fontsize=8)
    return _save(fig, out_dir / f"{safe_name(model.name)}__{task.name}__pred_vs_truth.png")


def pca_rgb(embeddings: np.ndarray) -> np.ndarray:
    """First three principal components of ``embeddings`` scaled to [0, 1] (1st-99th percentile), (N, 3)."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x - x.mean(axis=0)
    rng = np.random.Generator(np.random.PCG64(0))
    fit = x if len(x) <= 20000 else x[rng.choice(len(x), 20000, replace=False)]
    _, _, vt = np.linalg.svd(fit, full_matrices=False)
    comps = x @ vt[:3].T
    if comps.shape[1] < 3:
        comps = np.concatenate([comps, np.zeros((len(x), 3 - comps.shape[1]))], axis=1)
    lo = np.percentile(comps, 1, axis=0)
    hi = np.percentile(comps, 99, axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return np.clip((comps - lo) / span, 0.0, 1.0)


def pca_rgb_map(out_dir: Path, model: Embedder, res_deg: float,
                grid_embeddings: Optional[np.ndarray] = None) -> Path:
    """The embedding's first three principal components as RGB on a global grid."""
    pts, n_rows, n_cols = grid_points(res_deg)
    emb = grid_embeddings if grid_embeddings is not None else model.embed(pts)
    rgb = pca_rgb(emb).reshape(n_rows, n_cols, 3)
    fig = _figure(7, 3.8)
    ax = fig.subplots()
    ax.imshow(rgb, extent=(-180, 180, -90, 90), origin="upper", interpolation="nearest")
    ax.set_title(f"{model.name}: embedding PCA (PC1-3 as RGB)", fontsize=9)
    ax.set_xticks([-180, -90, 0, 90, 180])
    ax.set_yticks([-90, 0, 90])
    ax.tick_params(labelsize=7)
    return _save(fig, out_dir / f"{safe_name(model.name)}__pca_rgb.png")
