"""Partial PCA whitening folded into the encoder's last linear layer.

Contrastive training leaves the embedding's covariance (over the sphere) dominated by a few
directions; a linear probe with an L2 penalty then all but ignores the rest. With C = V diag(ev) V^T
the covariance of e(x) over ``points`` uniform on the sphere and mean mu, the whitened embedding is

    e'(x) = T (e(x) - mu),    T = s * V diag(ev ** (-alpha / 2)) V^T

(``alpha = 0``: unchanged up to centring and scale, ``alpha = 1``: full whitening; ``s`` keeps the
total variance). Because the last layer of the network is linear (``out = W h + b``) this is
exactly ``W' = T W`` and ``b' = T (b - mu)``: the architecture and the config do not change.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from geoloc_embed.encoders.model import LocationEncoder

__all__ = ["last_linear_layer", "whitening_transform", "whiten_output_layer"]


def last_linear_layer(enc: LocationEncoder) -> nn.Module:
    """The module whose ``weight``/``bias`` produce the embedding (SIREN's ``last_layer``)."""
    net = enc.network
    last = getattr(net, "last_layer", None)
    if last is None or getattr(last, "activation", True):
        raise ValueError("whitening needs a network whose last layer is linear without activation (siren)")
    return last


def whitening_transform(emb: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(T (D, D), mu (D,)) of ``whitening`` for embeddings ``emb`` (N, D), in float64."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    x = np.asarray(emb, dtype=np.float64)
    mu = x.mean(axis=0)
    cov = np.cov((x - mu).T)
    ev, vec = np.linalg.eigh(cov)
    ev = np.maximum(ev, ev.max() * 1e-9)
    t = vec @ np.diag(ev ** (-alpha / 2.0)) @ vec.T
    scale = np.sqrt(ev.sum() / np.sum(ev ** (1.0 - alpha)))  # same total variance as before
    return t * scale, mu


@torch.no_grad()
def whiten_output_layer(enc: LocationEncoder, points: np.ndarray, alpha: float) -> dict:
    """Fold the whitening of ``enc``'s embedding over ``points`` (N, 2) [lon, lat] into its last
    layer, in place; returns the eigen-spectrum summary before and after."""
    enc.eval()
    emb = enc.encode(points, order="lonlat")
    t, mu = whitening_transform(emb, alpha)
    last = last_linear_layer(enc)
    weight, bias = last.weight, last.bias
    if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
        raise ValueError("the last layer has no weight and bias tensors")
    w = weight.detach().double().numpy()
    b = bias.detach().double().numpy()
    weight.copy_(torch.from_numpy(t @ w))
    bias.copy_(torch.from_numpy(t @ (b - mu)))
    after = enc.encode(points, order="lonlat")
    return {"alpha": alpha, "points": int(len(points)), "var_before": float(emb.var(0).sum()),
            "var_after": float(after.var(0).sum())}
