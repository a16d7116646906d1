"""Training throughput: geoloc_embed.trainer steps vs a re-implementation of the authors' loop.

Measures samples/s of
  * one CSP-MC-BLD pre-training step (batch 1024, 2048-d frozen image features, grid encoder with
    the CSP FFN 128 -> 512 -> 256, C = 1 negative, SimCSE second pass, Adam), and
  * one fine-tuning step (presence-absence loss, one random background location per example,
    ``--num-classes`` classes),
for our trainer step (in-memory tensors indexed by whole index batches, one fused location-encoder
forward over anchors + negatives + second pass, torch position encoding) and for a loop written
here from csp-spec.md sections 1.2, 2.5 and 8 (what the authors' code does): a per-item
``Dataset.__getitem__`` with a per-item ``.to(device)``, ``DataLoader(num_workers=0)`` with the
default collate, and the position encoding computed in numpy float64 on the CPU, separately for
the anchors, the negatives and the second pass, every step. Both use the same network weights
shape, the same loss maths and the same optimizer, on the same data.

Steps of the two loops alternate one by one (after 2 warm-up steps each) so that both see the
same machine load; the medians are reported, as wall-clock samples/s and as a ratio of samples per
CPU-second of the process (steadier on a shared machine).

Usage:
    python benchmarks/train_throughput.py [--steps 10] [--batch-size 1024] [--num-classes 1000]
                                          [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
from torch import nn

from geoloc_embed import LocationEncoder
from geoloc_embed.architectures import architecture_config
from geoloc_embed.trainer.config import PretrainConfig
from geoloc_embed.trainer.engine import DistContext, make_adam, use_fast_cpu_dropout
from geoloc_embed.trainer.losses import mc_loss, presence_absence_loss
from geoloc_embed.trainer.pretrain import ImageLocationModel, build_pretrain_step
from geoloc_embed.trainer.samplers import build_negative_sampler

#: CSP-MC-BLD's location encoder (grid 32 scales 0.1-360 deg, FFN 128-512-256, LeakyReLU, dropout 0.5).
CSP_MODEL = "csp-grid"


# --------------------------------------------------------------------------- the authors' loop
def numpy_grid_pe(coords: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Space2Vec grid PE in numpy float64 (csp-spec.md section 1.2): (B, 2) -> (B, 4S)."""
    c = coords.astype(np.float32).astype(np.float64)          # float32 cast first, then float64 maths
    phase = c[:, :, None] * freq[None, None, :]               # (B, 2, S)
    out = np.stack([np.sin(phase), np.cos(phase)], axis=-1)   # (B, 2, S, 2)
    return out.reshape(c.shape[0], -1)


class AuthorsLocEnc(nn.Module):
    """Same network; PE in numpy float64 on the CPU, then a FloatTensor moved to the device."""

    def __init__(self, enc: LocationEncoder, device: torch.device) -> None:
        super().__init__()
        self.network = enc.network
        self.class_head = enc.class_head
        self.freq = enc.position_encoder.frequencies.double().cpu().numpy()
        self.device = device

    def forward(self, loc: torch.Tensor) -> torch.Tensor:
        pe = numpy_grid_pe(loc.detach().cpu().numpy(), self.freq)
        return self.network(torch.FloatTensor(pe).to(self.device))


class PerItemDataset(torch.utils.data.Dataset):
    def __init__(self, locs, feats, labels, device) -> None:
        self.locs, self.feats, self.labels, self.device = locs, feats, labels, device

    def __len__(self) -> int:
        return self.locs.shape[0]

    def __getitem__(self, i):
        return (self.locs[i].to(self.device), self.feats[i].to(self.device), self.labels[i].to(self.device))


def authors_rand_samples(n: int, device: torch.device) -> torch.Tensor:
    """sphericalold negatives (csp-spec.md section 2.4)."""
    r = torch.rand(n, 2, device=device) * 2 - 1
    theta = math.pi * (r[:, 1] + 1)
    rad = torch.sqrt(1 - r[:, 0] ** 2)
    return torch.stack([180 * rad * torch.cos(theta), 90 * rad * torch.sin(theta)], 1)


def _authors_batches(data, batch, device):
    """Endless batches from the authors'-style per-item loader (no workers), reshuffled each pass."""
    loader = torch.utils.data.DataLoader(PerItemDataset(*data, device), batch_size=batch, shuffle=True,
                                         num_workers=0, drop_last=True)
    while True:
        yield from loader


def authors_pretrain_steps(enc, proj, data, batch, device, num_neg=1):
    loc_enc = AuthorsLocEnc(enc, device)
    opt = torch.optim.Adam(list(enc.parameters()) + list(proj.parameters()), lr=5e-4)
    batches = _authors_batches(data, batch, device)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        loc, feat, _ = next(batches)
        n = loc.shape[0]
        u = loc_enc(loc)                                           # anchors
        neg = loc_enc(authors_rand_samples(num_neg * n, device))  # negatives, rows c*N + i
        u2 = loc_enc(loc)                                          # SimCSE second pass
        v = proj(feat)
        neg_u = neg.view(num_neg, n, -1).transpose(0, 1)
        loss = mc_loss(u, u2, v, neg_u, temperatures=(20.0, 1.0, 1.0), weights=(1.0, 1.0)).total
        opt.zero_grad()
        loss.backward()
        opt.step()
        yield time.perf_counter() - t0, time.process_time() - c0


def authors_finetune_steps(enc, data, batch, device):
    loc_enc = AuthorsLocEnc(enc, device)
    opt = torch.optim.Adam(enc.parameters(), lr=1e-3)
    batches = _authors_batches(data, batch, device)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        loc, _, y = next(batches)
        logits = loc_enc.class_head(loc_enc(loc))
        logits_neg = loc_enc.class_head(loc_enc(authors_rand_samples(loc.shape[0], device)))
        loss = presence_absence_loss(logits, logits_neg, y).total
        opt.zero_grad()
        loss.backward()
        opt.step()
        yield time.perf_counter() - t0, time.process_time() - c0


# --------------------------------------------------------------------------- ours
def shuffled_batches(n: int, batch: int):
    """Endless row-index batches for our loops: ``batch`` of ``n`` rows, reshuffled each epoch (seed 0),
    the short last batch dropped (a whole epoch when n < batch)."""
    generator = torch.Generator().manual_seed(0)
    while True:
        order = torch.randperm(n, generator=generator)
        for b in range(max(n // batch, 1)):
            yield order[b * batch:(b + 1) * batch]


def ours_pretrain_steps(enc, proj, data, batch, device):
    locs, feats, _ = data
    model = ImageLocationModel(enc, feats.shape[1]).to(device)
    model.img_proj = proj
    cfg = PretrainConfig(loss="mc", temperatures=(20.0, 1.0, 1.0), mc_weights=(1.0, 1.0), num_negatives=1,
                         neg_sampler="sphericalold", batch_size=batch, model=CSP_MODEL)
    tensors = {"locations": locs.to(device), "features": feats.to(device)}
    gen = torch.Generator(device=device).manual_seed(0)
    step = build_pretrain_step(cfg, model, tensors, device, DistContext(), build_negative_sampler("sphericalold"),
                               gen)
    if device.type == "cpu":
        use_fast_cpu_dropout(model)  # what pretrain() does (fast_cpu_dropout=True)
    opt = make_adam(model.parameters(), 5e-4)
    batches = shuffled_batches(locs.shape[0], batch)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        idx = next(batches)
        loss = step(idx, 0).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        yield time.perf_counter() - t0, time.process_time() - c0


def ours_finetune_steps(enc, data, batch, device):
    from geoloc_embed.trainer.finetune import ClassifierModel

    locs, _, labels = data
    model = ClassifierModel(enc).to(device)
    if device.type == "cpu":
        use_fast_cpu_dropout(model)
    opt = make_adam(model.parameters(), 1e-3)
    tl, ty = locs.to(device), labels.to(device)
    sampler = build_negative_sampler("sphericalold")
    gen = torch.Generator(device=device).manual_seed(0)
    batches = shuffled_batches(locs.shape[0], batch)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        idx = next(batches).to(device)
        n = idx.shape[0]
        logits = model(torch.cat([tl[idx], sampler(n, gen)]))
        loss = presence_absence_loss(logits[:n], logits[n:], ty[idx]).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        yield time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="fresh models per side; steps alternate ours/authors")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--num-samples", type=int, default=8192)
    ap.add_argument("--feature-dim", type=int, default=2048)
    ap.add_argument("--num-classes", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    n = args.num_samples
    g = torch.Generator().manual_seed(0)
    lon = torch.rand(n, generator=g) * 360 - 180
    lat = torch.rad2deg(torch.asin(torch.rand(n, generator=g) * 2 - 1))
    data = (torch.stack([lon, lat], 1), torch.randn(n, args.feature_dim, generator=g),
            torch.randint(0, args.num_classes, (n,), generator=g))
    enc_cfg = architecture_config(CSP_MODEL)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, batch {args.batch_size}, "
          f"features {args.feature_dim}, classes {args.num_classes}")

    def fresh(num_classes=0):
        torch.manual_seed(0)
        enc = LocationEncoder(enc_cfg.replace(num_classes=num_classes)).to(device)
        proj = nn.Linear(args.feature_dim, enc.embed_dim).to(device)
        return enc, proj

    results = {}
    for name, ours_gen, theirs_gen, ncls in (
        ("pre-train MC-BLD step", lambda e, p: ours_pretrain_steps(e, p, data, args.batch_size, device),
         lambda e, p: authors_pretrain_steps(e, p, data, args.batch_size, device), 0),
        ("fine-tune step", lambda e, p: ours_finetune_steps(e, data, args.batch_size, device),
         lambda e, p: authors_finetune_steps(e, data, args.batch_size, device), args.num_classes),
    ):
        ours_t, theirs_t = [], []
        for _ in range(args.rounds):
            ours, theirs = ours_gen(*fresh(ncls)), theirs_gen(*fresh(ncls))
            for step in range(args.steps + 2):  # alternate single steps: both see the same machine load
                o, t = next(ours), next(theirs)
                if step >= 2:
                    ours_t.append(o)
                    theirs_t.append(t)
        results[name] = [args.batch_size / statistics.median(x[i] for x in ts) for ts in (ours_t, theirs_t)
                         for i in (0, 1)]
    print(f"{'step':<24}{'ours (samples/s)':>18}{'authors-style (samples/s)':>27}{'ratio':>8}"
          f"{'ratio per CPU-second':>22}")
    for name, (o_wall, o_cpu, t_wall, t_cpu) in results.items():
        print(f"{name:<24}{o_wall:>18,.0f}{t_wall:>27,.0f}{o_wall / t_wall:>7.2f}x{o_cpu / t_cpu:>21.2f}x")

if __name__ == "__main__":
    main()
