"""A minimal, deterministic CSP-MC pre-training loop over precomputed (frozen) image features.

It mirrors ``geoloc_embed.trainer.pretrain`` (one location-encoder forward over
[anchors; C*N negatives in the authors' row order c*N + i; anchors again for SimCSE], a linear
projection W with bias on the image side, one Adam over W and e(), constant LR) and uses the
trainer's own loss, ``geoloc_embed.trainer.losses.mc_loss`` (csp-spec.md section 2.1), but stays
free of checkpoint/DDP machinery so that the Blue Marble recipe runs in a couple of minutes on a
2-core CPU and is bitwise reproducible for a given seed and thread count.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from geoloc_embed.config import LocationEncoderConfig
from geoloc_embed.coords import sample_uniform_sphere
from geoloc_embed.encoders.model import LocationEncoder

__all__ = ["pretrain_csp_mc"]


def pretrain_csp_mc(lonlat: Tensor, features: Tensor, config: LocationEncoderConfig, *, epochs: int = 30,
                    batch_size: int = 512, lr: float = 1e-3, temperatures: Sequence[float] = (1.0, 1.0, 1.0),
                    weights: Sequence[float] = (1.0, 0.1), num_negatives: int = 1, seed: int = 0,
                    log: Optional[Callable[[str], None]] = None) -> tuple[LocationEncoder, nn.Linear, list[dict]]:
    """CSP-MC-BLD pre-training; returns (location encoder in eval mode, projection W, per-epoch history).

    Args:
        lonlat: (N, 2) float [lon, lat] degrees of the patch centres.
        features: (N, F) frozen image features F(I) of the patches.
        config: the location encoder architecture.
        temperatures: (tau0, tau1, tau2), dividing the logits.
        weights: (alpha1, alpha2) for the random-location (L) and SimCSE (D) terms.
        num_negatives: C random negative locations per anchor, uniform on the sphere.
    """
    # the trainer's fused Adam and faster CPU dropout (rand >= p instead of the slow bernoulli_ kernel)
    from geoloc_embed.trainer.engine import make_adam, restore_dropout, use_fast_cpu_dropout
    from geoloc_embed.trainer.losses import mc_loss

    torch.manual_seed(seed)
    g_order = torch.Generator().manual_seed(seed + 11)
    g_neg = torch.Generator().manual_seed(seed + 104_729)
    lonlat = torch.as_tensor(lonlat, dtype=torch.float32)
    features = torch.as_tensor(features, dtype=torch.float32)
    loc_enc = LocationEncoder(config)
    proj = nn.Linear(features.shape[1], loc_enc.embed_dim, bias=True)
    opt = make_adam(list(loc_enc.parameters()) + list(proj.parameters()), lr)
    swapped = use_fast_cpu_dropout(loc_enc)
    loc_enc.train()
    n = lonlat.shape[0]
    c = int(num_negatives)
    history: list[dict] = []
    t0 = time.time()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=g_order)
        sums = np.zeros(4)
        steps = 0
        for s in range(0, n - batch_size + 1, batch_size):  # drop the ragged last batch
            idx = order[s:s + batch_size]
            x = lonlat[idx]
            parts = [x]
            if c:
                parts.append(sample_uniform_sphere(c * batch_size, generator=g_neg))
            parts.append(x)
            emb = loc_enc(torch.cat(parts))
            u = emb[:batch_size]
            neg_u = emb[batch_size:(1 + c) * batch_size].view(c, batch_size, -1).transpose(0, 1) if c else None
            u2 = emb[(1 + c) * batch_size:]
            v = proj(features[idx])
            terms = mc_loss(u, u2, v, neg_u, temperatures=temperatures, weights=weights)
            opt.zero_grad(set_to_none=True)
            terms.total.backward()
            opt.step()
            sums += [float(t.detach()) for t in (terms.total, terms.b, terms.l, terms.d)]
            steps += 1
        row = dict(zip(("loss", "loss_b", "loss_l", "loss_d"), (sums / max(steps, 1)).round(5).tolist(), strict=False))
        row.update(epoch=epoch + 1, seconds=round(time.time() - t0, 1))
        history.append(row)
        if log is not None:
            log(f"csp epoch {epoch + 1}/{epochs} loss {row['loss']:.5f} (B {row['loss_b']:.5f} "
                f"L {row['loss_l']:.5f} D {row['loss_d']:.5f}) {row['seconds']:.0f}s")
    restore_dropout(swapped)
    loc_enc.eval()
    proj.eval()
    return loc_enc, proj, history
