"""Training throughput: geoloc_embed.trainer steps (float32 and bf16 autocast) vs the authors' loop, one run.

Measures samples/s of
  * one CSP-MC-BLD pre-training step (batch 1024, 2048-d frozen image features, grid encoder with
    the CSP FFN 128 -> 512 -> 256, C = 1 negative, SimCSE second pass, tau = (20, 1, 1), Adam), and
  * one fine-tuning step (presence-absence loss, one random background location per example,
    ``--num-classes`` classes),
for three loops on the same data, with the same network shapes and the same optimizer:

  ours fp32  the trainer's own step functions (``build_pretrain_step`` / ``build_finetune_step``:
             in-memory tensors indexed by whole index batches, one fused location-encoder forward
             over anchors + negatives + second pass, torch position encoding, the trainer's losses,
             fast CPU dropout, fused Adam), as ``pretrain()`` / ``finetune()`` run them;
  ours bf16  the same under ``amp="bf16"`` (``torch.autocast`` of the forward, loss in float32);
  authors    a loop written here from csp-spec.md sections 1.2, 2.1, 2.5, 3.2 and 8 (what the authors'
             code does): a per-item ``Dataset.__getitem__`` with a per-item ``.to(device)``,
             ``DataLoader(num_workers=0)`` with the default collate, the position encoding in numpy
             float64 on the CPU, separately for the anchors, the negatives and the second pass, then
             moved to the device, the losses in plain torch ops as their code writes them, torch's
             dropout and the per-tensor Adam, in float32.

Before timing, the authors'-style losses are checked against the trainer's on the same embeddings
(relative difference <= 1e-5; exit status 1 otherwise). Then steps of the three loops alternate one
by one (after 2 warm-up steps each, ``--rounds`` fresh models per loop) so all see the same machine
load; medians are reported as wall-clock samples/s and as ratios to the authors' loop, by wall
clock and by CPU seconds of the process (steadier on a shared CPU). On CUDA every step ends with a
synchronize. ``--dry-run`` runs every code path with tiny sizes (checks the script, no figures).

Usage:
    python benchmarks/train_throughput.py [--steps 10] [--rounds 3] [--batch-size 1024]
        [--num-classes 1000] [--threads N] [--device cpu|cuda] [--precisions fp32,bf16]
        [--out table.md] [--dry-run]
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import sys
import time
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geoloc_embed import LocationEncoder
from geoloc_embed.architectures import architecture_config
from geoloc_embed.trainer.config import FinetuneConfig, PretrainConfig
from geoloc_embed.trainer.devices import autocast, cpu_has_native_bf16
from geoloc_embed.trainer.distributed import DistContext
from geoloc_embed.trainer.dropout import use_fast_cpu_dropout
from geoloc_embed.trainer.finetune import ClassifierModel, build_finetune_step
from geoloc_embed.trainer.losses import mc_loss, presence_absence_loss
from geoloc_embed.trainer.pretrain import ImageLocationModel, build_pretrain_step
from geoloc_embed.trainer.runtime import make_adam
from geoloc_embed.trainer.samplers import build_negative_sampler

#: CSP-MC-BLD's location encoder (grid 32 scales 0.1-360 deg, FFN 128-512-256, LeakyReLU, dropout 0.5).
CSP_MODEL = "csp-grid"
TEMPERATURES = (20.0, 1.0, 1.0)
LOSS_RTOL = 1e-5
Timer = Iterator[tuple[float, float]]  # endless (wall seconds, process CPU seconds) of one step each


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
        freq = enc.position_encoder.frequencies
        assert isinstance(freq, torch.Tensor), "the authors' loop is written for the grid encoder"
        self.freq = freq.double().cpu().numpy()
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


def authors_mc_loss(u, u2, v, neg_u, taus=TEMPERATURES, weights=(1.0, 1.0)):
    """CSP-MC-BLD as the authors' ``contsoftmax`` writes it (csp-spec.md section 2.1), in plain torch ops."""
    un, u2n, vn = (x / x.norm(dim=-1, keepdim=True) for x in (u, u2, v))
    negn = neg_u / neg_u.norm(dim=-1, keepdim=True)
    target = torch.arange(u.shape[0], device=u.device)
    loss_b = F.cross_entropy(un @ vn.T / taus[0], target)
    logits_l = torch.cat([(un * vn).sum(-1, keepdim=True), torch.einsum("ncd,nd->nc", negn, vn)], 1) / taus[1]
    loss_l = F.cross_entropy(logits_l, torch.zeros_like(target))
    loss_d = F.cross_entropy(un @ u2n.T / taus[2], target)
    return loss_b + weights[0] * loss_l + weights[1] * loss_d


def authors_presence_absence_loss(logits, logits_neg, labels, eps=1e-5):
    """geo_prior's ``full_loss`` as the authors write it (csp-spec.md section 3.2): pos weight Q, one background."""
    n, q = logits.shape
    p, p_neg = torch.sigmoid(logits), torch.sigmoid(logits_neg)
    rows = torch.arange(n, device=logits.device)
    loss_pos = -torch.log(1.0 - p + eps)
    loss_pos[rows, labels] = q * -torch.log(p[rows, labels] + eps)
    loss_bg = -torch.log(1.0 - p_neg + eps)
    return loss_pos.mean() + loss_bg.mean()


def _authors_batches(data, batch, device):
    """Endless batches from the authors'-style per-item loader (no workers), reshuffled each pass."""
    loader = torch.utils.data.DataLoader(PerItemDataset(*data, device), batch_size=batch, shuffle=True,
                                         num_workers=0, drop_last=True)
    while True:
        yield from loader


def authors_pretrain_steps(enc, proj, data, batch, device, num_neg=1) -> Timer:
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
        loss = authors_mc_loss(u, u2, v, neg.view(num_neg, n, -1).transpose(0, 1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        _sync(device)
        yield time.perf_counter() - t0, time.process_time() - c0


def authors_finetune_steps(enc, data, batch, device) -> Timer:
    loc_enc = AuthorsLocEnc(enc, device)
    head = enc.class_head
    assert head is not None, "fine-tuning needs a class head (num_classes > 0)"
    opt = torch.optim.Adam(enc.parameters(), lr=1e-3)
    batches = _authors_batches(data, batch, device)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        loc, _, y = next(batches)
        logits = head(loc_enc(loc))
        logits_neg = head(loc_enc(authors_rand_samples(loc.shape[0], device)))
        loss = authors_presence_absence_loss(logits, logits_neg, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        _sync(device)
        yield time.perf_counter() - t0, time.process_time() - c0


# --------------------------------------------------------------------------- ours
def shuffled_batches(n: int, batch: int) -> Iterator[torch.Tensor]:
    """Endless row-index batches for our loops: ``batch`` of ``n`` rows, reshuffled each epoch (seed 0),
    the short last batch dropped (a whole epoch when n < batch)."""
    generator = torch.Generator().manual_seed(0)
    while True:
        order = torch.randperm(n, generator=generator)
        for b in range(max(n // batch, 1)):
            yield order[b * batch:(b + 1) * batch]


def _our_steps(model: nn.Module, step: Callable, n_rows: int, batch: int, device: torch.device, lr: float,
               amp: str) -> Timer:
    """What ``TrainLoop`` does per step: the step under autocast, then zero_grad / backward / Adam."""
    if device.type == "cpu":
        use_fast_cpu_dropout(model)  # what pretrain()/finetune() do (fast_cpu_dropout=True)
    opt = make_adam(model.parameters(), lr)
    batches = shuffled_batches(n_rows, batch)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        idx = next(batches)
        with autocast(device, amp):
            loss = step(idx, 0).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        yield time.perf_counter() - t0, time.process_time() - c0


def ours_pretrain_steps(enc, proj, data, batch, device, amp="none") -> Timer:
    locs, feats, _ = data
    model = ImageLocationModel(enc, feats.shape[1]).to(device)
    model.img_proj = proj
    cfg = PretrainConfig(loss="mc", temperatures=TEMPERATURES, mc_weights=(1.0, 1.0), num_negatives=1,
                         neg_sampler="sphericalold", batch_size=batch, model=CSP_MODEL)
    tensors = {"locations": locs.to(device), "features": feats.to(device)}
    gen = torch.Generator(device=device).manual_seed(0)
    step = build_pretrain_step(cfg, model, tensors, device, DistContext(), build_negative_sampler("sphericalold"),
                               gen)
    return _our_steps(model, step, locs.shape[0], batch, device, 5e-4, amp)


def ours_finetune_steps(enc, data, batch, device, amp="none") -> Timer:
    locs, _, labels = data
    model = ClassifierModel(enc).to(device)
    cfg = FinetuneConfig(neg_sampler="sphericalold", batch_size=batch, model=CSP_MODEL)
    tensors = {"locations": locs.to(device), "labels": labels.to(device)}
    gen = torch.Generator(device=device).manual_seed(0)
    step = build_finetune_step(cfg, model, tensors, device, DistContext(), build_negative_sampler("sphericalold"),
                               gen)
    return _our_steps(model, step, locs.shape[0], batch, device, 1e-3, amp)


# --------------------------------------------------------------------------- checks and report
def check_losses(device: torch.device, num_classes: int) -> list[str]:
    """The authors'-style losses against the trainer's on the same embeddings; returns failures."""
    g = torch.Generator().manual_seed(1)
    n, d = 256, 64
    u, u2, v = (torch.randn(n, d, generator=g).to(device) for _ in range(3))
    neg = torch.randn(n, 1, d, generator=g).to(device)
    logits, logits_neg = (torch.randn(n, num_classes, generator=g).mul(3).to(device) for _ in range(2))
    labels = torch.randint(0, num_classes, (n,), generator=g).to(device)
    pairs = {"MC-BLD": (authors_mc_loss(u, u2, v, neg), mc_loss(u, u2, v, neg, temperatures=TEMPERATURES).total),
             "presence-absence": (authors_presence_absence_loss(logits, logits_neg, labels),
                                  presence_absence_loss(logits, logits_neg, labels).total)}
    failures = []
    for name, (theirs, ours) in pairs.items():
        rel = abs(float(theirs) - float(ours)) / abs(float(theirs))
        print(f"loss check {name}: authors-style {float(theirs):.6f}, trainer {float(ours):.6f}, "
              f"relative difference {rel:.1e} (<= {LOSS_RTOL:g})")
        if not rel <= LOSS_RTOL:
            failures.append(name)
    return failures


def measure(loops: dict[str, Callable[[], Timer]], steps: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Alternate single steps of every loop (fresh models each round); the timings after 2 warm-up steps."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in loops}
    for _ in range(rounds):
        running = {name: make() for name, make in loops.items()}
        for step in range(steps + 2):
            for name, it in running.items():
                t = next(it)
                if step >= 2:
                    times[name].append(t)
    return times


def render(results: dict[str, dict[str, list[tuple[float, float]]]], batch: int, header: str) -> str:
    lines = [header, "",
             "| step | loop | samples/s (median) | vs authors (wall) | vs authors (CPU s) |",
             "|---|---|---:|---:|---:|"]
    for step_name, times in results.items():
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
        ref_wall, ref_cpu = med["authors"]
        for loop, (wall, cpu) in med.items():
            ratio = "1.00x" if loop == "authors" else f"{ref_wall / wall:.2f}x"
            cpu_ratio = "1.00x" if loop == "authors" else (f"{ref_cpu / cpu:.2f}x" if cpu > 0 else "n/a")
            lines.append(f"| {step_name} | {loop} | {batch / wall:,.0f} | {ratio} | {cpu_ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3, help="fresh models per loop; steps alternate between loops")
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--num-samples", type=int, default=8192)
    ap.add_argument("--feature-dim", type=int, default=2048)
    ap.add_argument("--num-classes", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precisions", default="fp32,bf16", help="our loops to time: fp32, bf16 or both")
    ap.add_argument("--out", default="", help="also write the Markdown table to this file")
    ap.add_argument("--dry-run", action="store_true",
                    help="tiny sizes, 1 round of 1 step: runs every code path (no meaningful figures)")
    args = ap.parse_args(argv)
    if args.dry_run:
        args.steps, args.rounds, args.batch_size, args.num_samples = 1, 1, 64, 256
        args.feature_dim, args.num_classes = 32, 10
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precisions = [p for p in args.precisions.split(",") if p]
    if any(p not in ("fp32", "bf16") for p in precisions):
        ap.error(f"--precisions takes fp32 and/or bf16, got {args.precisions!r}")
    torch.manual_seed(0)
    n = args.num_samples
    g = torch.Generator().manual_seed(0)
    lon = torch.rand(n, generator=g) * 360 - 180
    lat = torch.rad2deg(torch.asin(torch.rand(n, generator=g) * 2 - 1))
    data = (torch.stack([lon, lat], 1), torch.randn(n, args.feature_dim, generator=g),
            torch.randint(0, args.num_classes, (n,), generator=g))
    enc_cfg = architecture_config(CSP_MODEL)
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)}"
    else:
        where = (f"CPU ({torch.backends.cpu.get_cpu_capability()}, native bf16 matmuls: "
                 f"{'yes' if cpu_has_native_bf16() else 'no, emulated'})")
    header = (f"{'DRY RUN (tiny sizes, no meaningful figures): ' if args.dry_run else ''}"
              f"torch {torch.__version__}, {where}, threads {torch.get_num_threads()}, batch {args.batch_size}, "
              f"features {args.feature_dim}, classes {args.num_classes}; median of {args.rounds} x {args.steps} "
              "interleaved steps")
    print(header, flush=True)
    if check_losses(device, args.num_classes):
        print("the authors'-style losses disagree with the trainer's: not timing", file=sys.stderr)
        return 1

    def fresh(num_classes: int = 0) -> tuple[LocationEncoder, nn.Linear]:
        torch.manual_seed(0)
        enc = LocationEncoder(enc_cfg.replace(num_classes=num_classes)).to(device)
        proj = nn.Linear(args.feature_dim, enc.embed_dim).to(device)
        return enc, proj

    amp_of = {"fp32": "none", "bf16": "bf16"}
    bs, nc = args.batch_size, args.num_classes

    def ours_pre(amp: str) -> Timer:
        return ours_pretrain_steps(*fresh(), data, bs, device, amp)

    def ours_fine(amp: str) -> Timer:
        return ours_finetune_steps(fresh(nc)[0], data, bs, device, amp)

    pre: dict[str, Callable[[], Timer]] = {f"ours {p}": functools.partial(ours_pre, amp_of[p]) for p in precisions}
    pre["authors"] = lambda: authors_pretrain_steps(*fresh(), data, bs, device)
    fine: dict[str, Callable[[], Timer]] = {f"ours {p}": functools.partial(ours_fine, amp_of[p]) for p in precisions}
    fine["authors"] = lambda: authors_finetune_steps(fresh(nc)[0], data, bs, device)
    results = {"pre-train MC-BLD": measure(pre, args.steps, args.rounds),
               "fine-tune": measure(fine, args.steps, args.rounds)}
    table = render(results, bs, header)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
