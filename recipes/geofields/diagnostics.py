"""Model-selection signals that use no benchmark label.

* ``effective_rank``: exp of the entropy of the normalised squared singular values of the centred
  (N, D) embedding matrix (Roy & Vetterli 2007). On 2,000 points uniform on the sphere this gives
  GeoCLIP 192, untrained Space2Vec-grid FFN 96, untrained SH + SIREN 55, csp-bluemarble 2.3.
* ``heldout_reconstruction``: how well a ridge regression on the frozen embedding predicts held-out
  *pre-training fields* (and other non-benchmark fields) at points in spatial blocks it never saw
  (the benchmark's blocked-split idea applied to our own data): mean R^2 per target.
* ``heldout_partition_accuracy``: blocked-split ridge accuracy on random Voronoi cells of the sphere.
* ``coarse_land_partition``: the benchmark's own linear and MLP probes (``geoloc_embed.bench.probes``)
  on random Voronoi cells of the *land* (MODIS water fraction < 0.5, a pre-training field), blocked
  split: does the embedding keep coarse position over land, where local content dominates it?
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from geoloc_embed.bench.probes import accuracy, fit_linear_probe, fit_mlp_probe
from geoloc_embed.bench.splits import blocked_split
from geoloc_embed.coords import lonlat_to_xyz, sample_uniform_sphere

from .data import sample_points

__all__ = ["effective_rank", "uniform_points", "blocked_folds", "ridge_r2", "heldout_reconstruction",
           "voronoi_labels", "heldout_partition_accuracy", "coarse_land_partition"]


def uniform_points(n: int, seed: int) -> np.ndarray:
    """(n, 2) [lon, lat] degrees uniform on the sphere, from ``geoloc_embed.coords`` with a seeded generator."""
    g = torch.Generator().manual_seed(int(seed))
    return sample_uniform_sphere(n, generator=g, dtype=torch.float64).numpy()


def effective_rank(emb: np.ndarray) -> float:
    """exp(H(p)) with p_i = s_i^2 / sum s^2, s the singular values of the centred ``emb`` (N, D)."""
    x = np.asarray(emb, dtype=np.float64)
    x = x - x.mean(axis=0)
    s = np.linalg.svd(x, compute_uv=False)
    p = s ** 2 / max(float(np.sum(s ** 2)), 1e-300)
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def blocked_folds(lonlat: np.ndarray, seed: int, block_deg: float = 10.0, test_frac: float = 0.25) -> np.ndarray:
    """Boolean test mask: whole equal-area blocks (``geoloc_embed.bench.splits``) held out."""
    split = blocked_split(lonlat, seed, block_deg=block_deg, val_frac=0.0, test_frac=test_frac)
    mask = np.zeros(len(lonlat), dtype=bool)
    mask[split["test"]] = True
    return mask


def ridge_r2(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
             alphas: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0)) -> np.ndarray:
    """Test R^2 (T,) of a multi-output ridge regression, the L2 strength picked per target on an
    inner random 20 % of the training rows. Features are standardised on the training rows."""
    mu, sd = x_train.mean(0), x_train.std(0)
    sd = np.where(sd > 1e-9, sd, np.inf)
    xt, xs = (x_train - mu) / sd, (x_test - mu) / sd
    rng = np.random.default_rng(0)
    inner = rng.random(len(xt)) < 0.2

    def fit(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        xm, ym = x.mean(0), y.mean(0)
        u, s, vt = np.linalg.svd(x - xm, full_matrices=False)
        uty = u.T @ (y - ym)
        out = []
        for a in alphas:
            w = vt.T @ ((s / (s * s + a * len(x)))[:, None] * uty)
            out.append((w, ym - xm @ w))
        return out

    def r2(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        ss = ((y - y.mean(0)) ** 2).sum(0)
        return 1.0 - ((y - pred) ** 2).sum(0) / np.where(ss > 0, ss, np.nan)

    val = np.stack([r2(xt[inner] @ w + b, y_train[inner]) for w, b in fit(xt[~inner], y_train[~inner])])
    best = np.nanargmax(np.nan_to_num(val, nan=-np.inf), axis=0)
    fits = fit(xt, y_train)
    pred = np.stack([xs @ w + b for w, b in fits])  # (A, N, T)
    chosen = pred[best, :, np.arange(pred.shape[2])].T
    return r2(chosen, y_test)


def heldout_reconstruction(embed: Callable[[np.ndarray], np.ndarray], lonlat: np.ndarray, targets: np.ndarray,
                           seeds: Sequence[int] = (0, 1)) -> np.ndarray:
    """Mean over ``seeds`` of the blocked-split ridge R^2 of every target column (T,).

    ``targets`` (N, T) may hold NaN where a target is undefined (ocean fields on land): those rows
    are left out of that target only.
    """
    emb = np.asarray(embed(lonlat), dtype=np.float64)
    ok_all = np.isfinite(targets)
    groups: dict[bytes, list[int]] = {}  # targets defined at the same points share one fit
    for j in range(targets.shape[1]):
        groups.setdefault(np.packbits(ok_all[:, j]).tobytes(), []).append(j)
    scores = np.full((len(seeds), targets.shape[1]), np.nan)
    for si, seed in enumerate(seeds):
        test = blocked_folds(lonlat, seed)
        for cols in groups.values():
            ok = ok_all[:, cols[0]]
            tr, te = ok & ~test, ok & test
            if tr.sum() < 10 or te.sum() < 2:
                continue
            scores[si, cols] = ridge_r2(emb[tr], targets[tr][:, cols], emb[te], targets[te][:, cols])
    return np.nanmean(scores, axis=0)


def voronoi_labels(lonlat: np.ndarray, num_cells: int, seed: int) -> np.ndarray:
    """(N,) index of the nearest of ``num_cells`` random sites (uniform on the sphere): an arbitrary
    partition of the globe, a stand-in for administrative or marine regions that uses no real label."""
    sites = lonlat_to_xyz(uniform_points(num_cells, seed=10_000 + seed))
    pts = lonlat_to_xyz(np.asarray(lonlat, dtype=np.float64))
    return np.argmax(pts @ sites.T, axis=1)


def _ridge_fit(x: np.ndarray, y: np.ndarray, alphas: Sequence[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Ridge weights and intercepts for each L2 strength (alpha times the number of rows)."""
    xm, ym = x.mean(0), y.mean(0)
    u, s, vt = np.linalg.svd(x - xm, full_matrices=False)
    uty = u.T @ (y - ym)
    return [(w, ym - xm @ w) for w in (vt.T @ ((s / (s * s + a * len(x)))[:, None] * uty) for a in alphas)]


def heldout_partition_accuracy(embed: Callable[[np.ndarray], np.ndarray], lonlat: np.ndarray,
                               num_cells: Sequence[int] = (30, 300), seeds: Sequence[int] = (0,),
                               alphas: Sequence[float] = (1e-3, 1e-2, 1e-1)) -> list[float]:
    """Blocked-split accuracy of a ridge classifier (one-hot targets, argmax) on random Voronoi
    partitions of ``num_cells`` cells, one figure per partition size (mean over ``seeds``); the L2
    strength is picked on an inner random 20 % of the training rows."""
    emb = np.asarray(embed(lonlat), dtype=np.float64)
    out = []
    for k in num_cells:
        accs = []
        for seed in seeds:
            y = voronoi_labels(lonlat, k, seed)
            test = blocked_folds(lonlat, seed)
            mu, sd = emb[~test].mean(0), emb[~test].std(0)
            sd = np.where(sd > 1e-9, sd, np.inf)
            xt, xs, yt = (emb[~test] - mu) / sd, (emb[test] - mu) / sd, y[~test]
            onehot = np.eye(k)[yt]
            inner = np.random.default_rng(seed).random(len(xt)) < 0.2
            inner_acc = [float(np.mean(np.argmax(xt[inner] @ w + b, 1) == yt[inner]))
                         for w, b in _ridge_fit(xt[~inner], onehot[~inner], alphas)]
            w, b = _ridge_fit(xt, onehot, [alphas[int(np.argmax(inner_acc))]])[0]
            accs.append(float(np.mean(np.argmax(xs @ w + b, 1) == y[test])))
        out.append(float(np.mean(accs)))
    return out


def coarse_land_partition(embed: Callable[[np.ndarray], np.ndarray], *, num_points: int = 6000,
                          num_cells: int = 12, seeds: Sequence[int] = (0, 1, 2)) -> dict[str, float]:
    """Mean test accuracy of the benchmark's linear and MLP probes (``{"linear": .., "mlp": ..}``) on
    ``num_cells`` random Voronoi cells, at ``num_points`` points uniform over land, blocked split
    (``geoloc_embed.bench.splits.blocked_split``; 60/20/20). The cells are drawn per seed; no real label."""
    lonlat = sample_points(num_points, 1.0, seed=4242)
    emb = np.asarray(embed(lonlat), dtype=np.float64)
    scores: dict[str, list[float]] = {"linear": [], "mlp": []}
    for seed in seeds:
        y = voronoi_labels(lonlat, num_cells, seed)
        split = blocked_split(lonlat, seed)
        tr, va, te = split["train"], split["val"], split["test"]
        for name, fit in (("linear", fit_linear_probe), ("mlp", fit_mlp_probe)):
            probe = fit("classification", emb[tr], y[tr], emb[va], y[va], seed=seed)
            scores[name].append(accuracy(y[te], probe.predict(emb[te])))
    return {k: float(np.mean(v)) for k, v in scores.items()}
