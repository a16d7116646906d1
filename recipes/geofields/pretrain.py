"""CSP-MC-BLD pre-training of a location encoder against frozen field-patch features.

The loop follows ``geoloc_embed.trainer.pretrain`` (one location-encoder forward over
[anchors; C*N negatives in the authors' row order c*N + i; anchors again for SimCSE], an image
projection W, one Adam over W and e()) and uses the trainer's own loss
``geoloc_embed.trainer.losses.mc_loss`` (csp-spec.md section 2.1). What it adds, and what the
trainer could take over later:

* a learning-rate schedule (linear warm-up, then cosine decay to ``lr_min_ratio * lr``);
* per-epoch diagnostics: the effective rank of the embedding on 2,000 fixed uniform points and the
  contrastive loss on spatially held-out points (eval mode), so that collapse shows while training;
* no checkpoint/DDP machinery: one process, bitwise reproducible for a seed and a thread count.

Negative locations are uniform on the sphere (``geoloc_embed.coords.sample_uniform_sphere``).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from geoloc_embed.config import LocationEncoderConfig
from geoloc_embed.coords import lonlat_to_xyz, sample_uniform_sphere, xyz_to_lonlat
from geoloc_embed.encoders.model import LocationEncoder
from geoloc_embed.trainer.losses import mc_loss

from .diagnostics import effective_rank, uniform_points

__all__ = ["ImageProjection", "pretrain_mc", "heldout_loss", "jitter"]


def jitter(lonlat: Tensor, sigma_deg: float, generator: torch.Generator) -> Tensor:
    """Move each point by an isotropic Gaussian step of ``sigma_deg`` (degrees of arc per axis) on
    the sphere: perturb the unit vector in 3-D and renormalise, so poles and the antimeridian need
    no special case. (N, 2) -> (N, 2) [lon, lat] degrees."""
    if sigma_deg <= 0:
        return lonlat
    xyz = lonlat_to_xyz(lonlat.double())
    noise = torch.randn(xyz.shape, generator=generator, dtype=torch.float64) * math.radians(sigma_deg)
    return xyz_to_lonlat(xyz + noise).to(lonlat.dtype)


class ImageProjection(nn.Module):
    """W: Linear(F -> D) with bias (CSP's code), or a 2-layer MLP when ``hidden > 0``."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 0) -> None:
        super().__init__()
        if hidden:
            self.net: nn.Module = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))
        else:
            self.net = nn.Linear(in_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _step_terms(enc: LocationEncoder, proj: nn.Module, x: Tensor, f: Tensor, c: int, g_neg: torch.Generator,
                temperatures: Sequence[float], weights: Sequence[float], simcse: bool = True) -> Any:
    n = x.shape[0]
    parts = [x]
    if c:
        parts.append(sample_uniform_sphere(c * n, generator=g_neg))
    if simcse:
        parts.append(x)
    emb = enc(torch.cat(parts))
    u = emb[:n]
    neg_u = emb[n:(1 + c) * n].view(c, n, -1).transpose(0, 1) if c else None
    u2 = emb[(1 + c) * n:] if simcse else None
    return mc_loss(u, u2, proj(f), neg_u, temperatures=temperatures, weights=weights)


@torch.no_grad()
def heldout_loss(enc: LocationEncoder, proj: nn.Module, lonlat: Tensor, feats: Tensor, *, batch_size: int,
                 temperatures: Sequence[float], weights: Sequence[float], num_negatives: int,
                 seed: int = 12345) -> dict[str, float]:
    """Mean MC terms (eval mode: no dropout, so D is left out) over full batches of held-out points."""
    was = enc.training, proj.training
    enc.eval()
    proj.eval()
    g = torch.Generator().manual_seed(seed)
    sums = np.zeros(3)
    k = 0
    for s in range(0, lonlat.shape[0] - batch_size + 1, batch_size):
        t = _step_terms(enc, proj, lonlat[s:s + batch_size], feats[s:s + batch_size], num_negatives, g,
                        temperatures, (weights[0], 0.0), simcse=False)
        sums += [float(t.total), float(t.b), float(t.l)]
        k += 1
    enc.train(was[0])
    proj.train(was[1])
    return dict(zip(("val_loss", "val_b", "val_l"), (sums / max(k, 1)).round(5).tolist(), strict=True))


def pretrain_mc(lonlat: Tensor, feats: Tensor, config: LocationEncoderConfig, *, epochs: int, batch_size: int,
                lr: float, temperatures: Sequence[float], weights: Sequence[float], num_negatives: int = 1,
                proj_hidden: int = 0, jitter_deg: float = 0.0, warmup_steps: int = 100, lr_min_ratio: float = 0.05,
                weight_decay: float = 0.0, seed: int = 0, val: Optional[tuple[Tensor, Tensor]] = None,
                rank_points: int = 2000, log: Optional[Callable[[str], None]] = None,
                on_epoch: Optional[Callable[[LocationEncoder, dict], None]] = None,
                ) -> tuple[LocationEncoder, nn.Module, list[dict]]:
    """Train e() and W with CSP-MC-BLD; returns (encoder in eval mode, W, per-epoch history).

    Args:
        lonlat: (N, 2) float32 [lon, lat] degrees of the training points.
        feats: (N, F) float32 standardised frozen image features of those points.
        config: the location encoder's architecture.
        temperatures: (tau0, tau1, tau2) dividing the B, L and D logits.
        weights: (alpha1, alpha2) of the L and D terms.
        num_negatives: C random negative locations per anchor (uniform on the sphere).
        jitter_deg: the anchors' locations are moved by this Gaussian step (degrees) each time
            they are drawn, so the encoder cannot tell apart points closer than about that.
        val: optional held-out (lonlat, feats) for the per-epoch held-out loss.
        on_epoch: called after every epoch with the encoder (in eval mode) and the history row.
    """
    torch.manual_seed(seed)
    g_order = torch.Generator().manual_seed(seed + 11)
    g_neg = torch.Generator().manual_seed(seed + 104_729)
    g_jit = torch.Generator().manual_seed(seed + 7_919)
    enc = LocationEncoder(config)
    proj = ImageProjection(feats.shape[1], enc.embed_dim, proj_hidden)
    params = list(enc.parameters()) + list(proj.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay) if weight_decay else \
        torch.optim.Adam(params, lr=lr)
    n = lonlat.shape[0]
    steps_per_epoch = n // batch_size
    total = max(1, epochs * steps_per_epoch)

    def lr_at(step: int) -> float:
        if step < warmup_steps:
            return lr * (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(1, total - warmup_steps)
        return lr * (lr_min_ratio + (1 - lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))

    rank_ll = torch.from_numpy(uniform_points(rank_points, seed=2024)).float()
    history: list[dict] = []
    t0 = time.time()
    step = 0
    enc.train()
    proj.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=g_order)
        sums = np.zeros(4)
        for s in range(steps_per_epoch):
            idx = order[s * batch_size:(s + 1) * batch_size]
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            x = jitter(lonlat[idx], jitter_deg, g_jit)
            terms = _step_terms(enc, proj, x, feats[idx], num_negatives, g_neg, temperatures, weights)
            opt.zero_grad(set_to_none=True)
            terms.total.backward()
            opt.step()
            sums += [float(t.detach()) for t in (terms.total, terms.b, terms.l, terms.d)]
            step += 1
        row: dict[str, Any] = dict(zip(("loss", "loss_b", "loss_l", "loss_d"),
                                       (sums / max(steps_per_epoch, 1)).round(5).tolist(), strict=True))
        enc.eval()
        with torch.no_grad():
            row["effective_rank"] = round(effective_rank(enc(rank_ll).numpy()), 2)
        enc.train()
        if val is not None:
            row.update(heldout_loss(enc, proj, val[0], val[1], batch_size=batch_size, temperatures=temperatures,
                                    weights=weights, num_negatives=num_negatives))
        row.update(epoch=epoch + 1, lr=round(lr_at(step - 1), 7), seconds=round(time.time() - t0, 1))
        history.append(row)
        if on_epoch is not None:
            enc.eval()
            on_epoch(enc, row)
            enc.train()
        if log is not None:
            extra = f" val {row['val_loss']:.4f} (B {row['val_b']:.4f})" if val is not None else ""
            log(f"epoch {epoch + 1}/{epochs} loss {row['loss']:.4f} (B {row['loss_b']:.4f} L {row['loss_l']:.4f} "
                f"D {row['loss_d']:.4f}){extra} erank {row['effective_rank']:.1f} {row['seconds']:.0f}s")
    enc.eval()
    proj.eval()
    return enc, proj, history
