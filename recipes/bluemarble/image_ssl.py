"""A small CNN image encoder F trained self-supervised (SimCLR, NT-Xent) on Blue Marble patches.

No pretrained image backbone can be downloaded on our machines, so F is trained here from
scratch, then frozen (LiT-style, as in CSP) and used to precompute one feature vector per patch.

Augmentations (batched, in torch): random ``crop`` x ``crop`` crops inside a larger patch (a
random shift of up to +-(patch - crop)/2 pixels, i.e. +-30 km for 40 -> 32), random horizontal and
vertical flips and 90-degree rotations (satellite images have no canonical up), and mild colour
jitter (per-image brightness and contrast, per-channel gain). The jitter is deliberately mild:
colour *is* the signal in a 7 km/px true-colour mosaic.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PatchCNN", "augment", "nt_xent", "train_simclr", "extract_features", "to_float"]


def to_float(patches: Tensor) -> Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in roughly [-1, 1]."""
    return patches.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


class PatchCNN(nn.Module):
    """Conv(3->c) / 2 -> Conv(c->2c) / 2 -> Conv(2c->4c) / 2 -> Conv(4c->feat) -> global avg+max pool.

    BatchNorm + ReLU after each convolution. Output (N, 2 * feat_dim // 2) = (N, feat_dim).
    """

    def __init__(self, width: int = 32, feat_dim: int = 128) -> None:
        super().__init__()
        if feat_dim % 2:
            raise ValueError("feat_dim must be even (avg- and max-pooled halves)")
        c = width

        def block(i: int, o: int, pool: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o),
                                       nn.ReLU(inplace=True)]
            if pool:
                layers.append(nn.MaxPool2d(2))
            return layers

        self.body = nn.Sequential(*block(3, c, True), *block(c, 2 * c, True), *block(2 * c, 4 * c, True),
                                  *block(4 * c, feat_dim // 2, False))
        self.feat_dim = feat_dim

    def forward(self, x: Tensor) -> Tensor:
        h = self.body(x)
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)


def augment(x: Tensor, crop: int, generator: torch.Generator) -> Tensor:
    """Batched SimCLR-style augmentation of float (N, 3, P, P) patches -> (N, 3, crop, crop)."""
    n, _, p, _ = x.shape
    g = generator
    # random crop: gather with per-sample offsets
    oy = torch.randint(0, p - crop + 1, (n,), generator=g)
    ox = torch.randint(0, p - crop + 1, (n,), generator=g)
    ar = torch.arange(crop)
    rows = (oy[:, None] + ar[None, :])[:, None, :, None].expand(n, 3, crop, p)
    cols = (ox[:, None] + ar[None, :])[:, None, None, :].expand(n, 3, crop, crop)
    x = x.gather(2, rows).gather(3, cols)
    # flips and 90-degree rotations
    flip_h = torch.rand(n, generator=g) < 0.5
    flip_v = torch.rand(n, generator=g) < 0.5
    rot = torch.rand(n, generator=g) < 0.5
    x = torch.where(flip_h[:, None, None, None], x.flip(3), x)
    x = torch.where(flip_v[:, None, None, None], x.flip(2), x)
    x = torch.where(rot[:, None, None, None], x.transpose(2, 3), x)
    # mild colour jitter
    bright = (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 0.3          # +-0.15 on [-1, 1] scale
    contrast = 1.0 + (torch.rand(n, 1, 1, 1, generator=g) - 0.5) * 0.4   # x[0.8, 1.2]
    gain = 1.0 + (torch.rand(n, 3, 1, 1, generator=g) - 0.5) * 0.1      # +-5 % per channel
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    x = x * gain + bright
    return x


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.2) -> Tensor:
    """SimCLR's normalised-temperature cross-entropy over 2N views (both directions)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def train_simclr(patches: Tensor, *, crop: int = 32, width: int = 32, feat_dim: int = 128, proj_dim: int = 64,
                 batch_size: int = 256, steps: int = 300, lr: float = 2e-3, temperature: float = 0.2,
                 seed: int = 0, log: Optional[Callable[[str], None]] = None, log_every: int = 25) -> PatchCNN:
    """Train ``PatchCNN`` with SimCLR on uint8 (N, P, P, 3) patches; returns the frozen encoder (eval mode)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    enc = PatchCNN(width, feat_dim)
    head = nn.Sequential(nn.Linear(feat_dim, feat_dim), nn.ReLU(inplace=True), nn.Linear(feat_dim, proj_dim))
    params = list(enc.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    enc.train()
    head.train()
    n = patches.shape[0]
    t0 = time.time()
    for step in range(steps):
        idx = torch.randint(0, n, (batch_size,), generator=g)
        x = to_float(patches[idx])
        v1, v2 = augment(x, crop, g), augment(x, crop, g)
        loss = nt_xent(head(enc(v1)), head(enc(v2)), temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % log_every == 0 or step == steps - 1):
            log(f"simclr step {step + 1}/{steps} loss {loss.item():.4f} ({time.time() - t0:.0f}s)")
    enc.eval()
    enc.requires_grad_(False)
    return enc


@torch.no_grad()
def extract_features(enc: nn.Module, patches: Tensor, *, crop: int = 32, batch_size: int = 2048) -> Tensor:
    """Frozen features of the centre ``crop`` x ``crop`` of uint8 (N, P, P, 3) patches -> float32 (N, F)."""
    enc.eval()
    p = patches.shape[1]
    lo = (p - crop) // 2
    out = []
    for s in range(0, patches.shape[0], batch_size):
        x = to_float(patches[s:s + batch_size, lo:lo + crop, lo:lo + crop])
        out.append(enc(x).float())
    return torch.cat(out) if out else torch.empty(0, getattr(enc, "feat_dim", 0))
