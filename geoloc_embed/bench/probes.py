"""Probes on frozen embeddings and their metrics (numpy + torch, no scikit-learn).

* ``fit_linear_probe``: ridge regression (closed form through one SVD, so the whole L2 grid costs one
  decomposition) or multinomial logistic regression (L-BFGS, warm-started along the L2 grid); the
  L2 strength is chosen on the validation fold.
* ``fit_mlp_probe``: a small MLP (2 hidden layers, ReLU) trained with AdamW and early stopping on the
  validation loss.

Features are standardised with the training fold's mean and standard deviation; regression targets
are standardised for fitting and reported in their own units. Everything is deterministic given the
seed (torch's global RNG is not touched: randomness goes through local generators).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "Standardizer",
    "Probe",
    "fit_linear_probe",
    "fit_mlp_probe",
    "classification_metrics",
    "regression_metrics",
    "accuracy",
    "macro_f1",
    "r2_score",
    "rmse",
]

#: L2 grid of the ridge probe, as multiples of the number of training points (features standardised).
RIDGE_ALPHAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: L2 grid of the logistic probe (penalty lam/2 * ||W||^2 added to the mean cross-entropy).
LOGISTIC_LAMBDAS = (1e-1, 1e-2, 1e-3, 1e-4)


# ---------------------------------------------------------------------------- metrics
def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``y_true`` or ``y_pred``
    (scikit-learn's ``f1_score(average="macro")``; a class with no true and no predicted point is ignored)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.size == 0:
        return float("nan")
    classes = np.union1d(y_true, y_pred)
    t = np.searchsorted(classes, y_true)
    p = np.searchsorted(classes, y_pred)
    k = classes.size
    tp = np.bincount(t[t == p], minlength=k).astype(np.float64)
    true_count = np.bincount(t, minlength=k).astype(np.float64)
    pred_count = np.bincount(p, minlength=k).astype(np.float64)
    denom = true_count + pred_count
    f1 = np.divide(2.0 * tp, denom, out=np.zeros(k), where=denom > 0)
    return float(f1.mean())


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - ss_res / ss_tot


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(diff ** 2))) if diff.size else float("nan")


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {"accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred)}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {"r2": r2_score(y_true, y_pred), "rmse": rmse(y_true, y_pred)}


# ---------------------------------------------------------------------------- preprocessing
class Standardizer:
    """Per-feature (x - mean) / std with the training fold's statistics; constant features stay 0."""

    def __init__(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 1e-12 * max(1.0, float(np.abs(self.mean).max(initial=0.0))), std, np.inf)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)


@dataclass
class Probe:
    """A fitted probe: ``predict(raw embeddings) -> labels`` (class ids or values in label units)."""

    kind: str
    name: str
    predict_fn: Callable[[np.ndarray], np.ndarray]
    hyper: dict

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        return self.predict_fn(embeddings)


def _encode_classes(y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    classes = np.unique(y_train)
    return classes, np.searchsorted(classes, y_train)


def _select(scores: Sequence[float]) -> int:
    """Index of the best (highest) validation score; ties go to the first (strongest regularisation)."""
    arr = np.asarray(scores, dtype=np.float64)
    arr = np.where(np.isfinite(arr), arr, -np.inf)
    return int(np.argmax(arr))


# ---------------------------------------------------------------------------- linear probe
def fit_linear_probe(kind: str, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                     y_val: np.ndarray, *, seed: int = 0, max_iter: int = 100) -> Probe:
    """Ridge (``kind="regression"``) or L2 logistic regression (``"classification"``), L2 chosen on validation.

    Selection criterion: validation R² (ridge) or validation accuracy (logistic).
    """
    scaler = Standardizer(x_train)
    xt = scaler(x_train).astype(np.float64)
    xv = scaler(x_val).astype(np.float64)
    if kind == "regression":
        y_mean = float(np.mean(y_train))
        y_std = float(np.std(y_train)) or 1.0
        yt = (np.asarray(y_train, dtype=np.float64) - y_mean) / y_std
        x_mean = xt.mean(axis=0)
        # torch's SVD (not numpy's) so that the benchmark's thread setting governs every kernel
        u_t, s_t, vt_t = torch.linalg.svd(torch.from_numpy(xt - x_mean), full_matrices=False)
        u, s, vt = u_t.numpy(), s_t.numpy(), vt_t.numpy()
        uty = u.T @ yt
        n = xt.shape[0]
        weights, scores = [], []
        for alpha in RIDGE_ALPHAS:
            lam = alpha * n
            w = vt.T @ (s / (s * s + lam) * uty)
            b = -x_mean @ w
            weights.append((w, b))
            scores.append(r2_score(y_val, (xv @ w + b) * y_std + y_mean))
        best = _select(scores)
        w, b = weights[best]

        def predict(emb: np.ndarray) -> np.ndarray:
            return (scaler(emb).astype(np.float64) @ w + b) * y_std + y_mean

        return Probe(kind, "linear", predict, {"l2_alpha": RIDGE_ALPHAS[best], "val_r2": scores[best]})

    if kind != "classification":
        raise ValueError(f"kind must be 'regression' or 'classification', got {kind!r}")
    classes, yt = _encode_classes(y_train)
    k = classes.size
    if k == 1:
        only = classes[0]
        return Probe(kind, "linear", lambda emb: np.full(len(emb), only, dtype=np.int64), {"l2_lambda": None})
    xt_t = torch.from_numpy(xt.astype(np.float32))
    xv_t = torch.from_numpy(xv.astype(np.float32))
    yt_t = torch.from_numpy(yt)
    d = xt.shape[1]
    weight = torch.zeros(d, k, requires_grad=True)
    bias = torch.zeros(k, requires_grad=True)
    # start the bias at the training log-frequencies: converges faster for imbalanced classes
    with torch.no_grad():
        freq = torch.bincount(yt_t, minlength=k).to(torch.float32) / len(yt)
        bias.copy_(torch.log(freq.clamp_min(1e-6)))
    states, scores = [], []
    for lam in LOGISTIC_LAMBDAS:  # strongest first, warm-started
        opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-6,
                                tolerance_change=1e-9, history_size=20, line_search_fn="strong_wolfe")

        def closure(opt: torch.optim.Optimizer = opt, lam: float = lam) -> torch.Tensor:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(xt_t @ weight + bias, yt_t) + 0.5 * lam * (weight * weight).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            pred = (xv_t @ weight + bias).argmax(dim=1).numpy()
        states.append((weight.detach().clone(), bias.detach().clone()))
        scores.append(accuracy(y_val, classes[pred]))
    best = _select(scores)
    w_best, b_best = states[best]

    def predict_cls(emb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = torch.from_numpy(scaler(emb)) @ w_best + b_best
        return classes[logits.argmax(dim=1).numpy()]

    return Probe(kind, "linear", predict_cls, {"l2_lambda": LOGISTIC_LAMBDAS[best], "val_accuracy": scores[best]})


# ---------------------------------------------------------------------------- MLP probe
class _MLP(nn.Module):
    def __init__(self, d_in: int, d_out: int, hidden: int, layers: int) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        width = d_in
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        mods.append(nn.Linear(width, d_out))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def fit_mlp_probe(kind: str, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                  *, seed: int = 0, hidden: int = 256, layers: int = 2, max_epochs: int = 60, patience: int = 8,
                  batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 1e-4,
                  max_steps: Optional[int] = None) -> Probe:
    """A ``layers``-hidden-layer ReLU MLP, AdamW, early stopping on the validation loss (best epoch kept)."""
    scaler = Standardizer(x_train)
    xt = torch.from_numpy(scaler(x_train))
    xv = torch.from_numpy(scaler(x_val))
    if kind == "regression":
        y_mean = float(np.mean(y_train))
        y_std = float(np.std(y_train)) or 1.0
        yt = torch.from_numpy(((np.asarray(y_train, np.float64) - y_mean) / y_std).astype(np.float32))[:, None]
        yv = torch.from_numpy(((np.asarray(y_val, np.float64) - y_mean) / y_std).astype(np.float32))[:, None]
        out_dim = 1
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.mse_loss
        classes = None
    elif kind == "classification":
        classes, yt_np = _encode_classes(y_train)
        if classes.size == 1:
            only = classes[0]
            return Probe(kind, "mlp", lambda emb: np.full(len(emb), only, dtype=np.int64), {})
        yt = torch.from_numpy(yt_np)
        # validation points of classes unseen in training cannot be scored by the loss: skip them there
        pos = np.searchsorted(classes, y_val).clip(0, classes.size - 1)
        seen = classes[pos] == y_val
        xv = xv[torch.from_numpy(seen)]
        yv = torch.from_numpy(pos[seen])
        out_dim = classes.size
        loss_fn = nn.functional.cross_entropy
    else:
        raise ValueError(f"kind must be 'regression' or 'classification', got {kind!r}")

    gen = torch.Generator().manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = _MLP(xt.shape[1], out_dim, hidden, layers)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = xt.shape[0]
    best_loss, best_state, best_epoch, bad = math.inf, None, 0, 0
    steps = 0
    for epoch in range(max_epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            steps += 1
        model.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(model(xv), yv)) if len(yv) else float(loss)
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, bad = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
        if max_steps is not None and steps >= max_steps:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()

    def predict(emb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = model(torch.from_numpy(scaler(emb)))
        if classes is None:
            return out[:, 0].double().numpy() * y_std + y_mean
        return classes[out.argmax(dim=1).numpy()]

    return Probe(kind, "mlp", predict, {"best_epoch": best_epoch, "val_loss": best_loss})
