"""Few-shot fine-tuning: does CSP pre-training help when labels are scarce? (the model card's table)

Tasks: classification tasks read with the benchmark's label readers (``geoloc_embed.bench.tasks``,
e.g. ``koppen``: the Köppen-Geiger main group; ``country``: Natural Earth admin-0). Labels are read
for evaluation only; pre-training never sees them. Points: the task's fixed-seed sample (uniform
on the sphere where the label is defined). Split: spatially blocked (10-degree equal-area blocks,
``geoloc_embed.bench.splits.blocked_split``), 25 % of the points as test, a different block draw
per seed. The training part is subsampled (stratified, at least one point per class) to
5 / 10 / 20 / 100 %.

Compared, with the same budget (``steps`` Adam steps, batch 256, softmax cross-entropy, linear head):

* ``csp-ft``: the pre-trained encoder + a randomly initialised linear head, everything fine-tuned;
* ``csp-lpft``: linear probing then fine-tuning (LP-FT, Kumar et al., ICLR 2022): the head starts
  from the ``csp-linear`` probe (its standardisation folded in), then everything is fine-tuned for
  ``steps`` more steps at a tenth of the learning rate, so the first updates do not distort the
  pre-trained features through a random head;
* ``scratch``: the same architecture from random initialisation ("Sup. Only");
* ``wrap``: geo_prior's wrap + FCNet (4 residual layers, 256 wide), from scratch ("Sup. Only (wrap)");
* ``csp-linear``: a linear (softmax) probe on the frozen pre-trained embeddings.

``python -m recipes.geofields.fewshot --model weights/csp-geofields --tasks koppen,country``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Sequence, Union, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geoloc_embed.bench.probes import accuracy, macro_f1
from geoloc_embed.bench.splits import blocked_split
from geoloc_embed.bench.tasks import get_task
from geoloc_embed.config import FCNetConfig, LocationEncoderConfig, WrapConfig
from geoloc_embed.encoders.model import LocationEncoder

__all__ = ["task_points", "stratified_subset", "run_fewshot", "format_table", "WRAP_CONFIG", "METHODS"]

WRAP_CONFIG = LocationEncoderConfig(position_encoder=WrapConfig(),
                                    network=FCNetConfig(embed_dim=256, num_hidden_layers=4, activation="relu",
                                                        dropout=0.5))
METHODS = ("csp-ft", "csp-lpft", "scratch", "wrap", "csp-linear")


def task_points(task: str, n: int = 20_000, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """(lonlat (M, 2), labels (M,) int64 in 0..K-1) of a benchmark classification task's sample;
    classes are renumbered densely in order of their original index."""
    t = get_task(task)
    if not t.is_classification:
        raise ValueError(f"few-shot fine-tuning needs a classification task; {task!r} is {t.kind}")
    lonlat, y = t.sample(n, seed)
    _, dense = np.unique(y, return_inverse=True)
    return lonlat, dense.astype(np.int64)


def stratified_subset(labels: np.ndarray, frac: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices: round(n_c * frac) (at least 1) per class without replacement; all when frac >= 1."""
    if frac >= 1.0:
        return np.arange(len(labels))
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(round(len(idx) * frac)))
        out.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(out))


def _folded_head(probe: nn.Module) -> nn.Linear:
    """The frozen probe's head acting on raw embeddings: W (e - mu) / sd + b as one Linear."""
    mu, sd = cast(torch.Tensor, probe.mu), cast(torch.Tensor, probe.sd)
    weight = cast(torch.Tensor, probe.weight).detach() / sd
    bias = cast(torch.Tensor, probe.bias).detach()
    head = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.copy_(bias - weight @ mu)
    return head


def _train_classifier(enc: LocationEncoder, x: torch.Tensor, y: torch.Tensor, num_classes: int, *, steps: int,
                      batch_size: int, lr: float, seed: int, freeze: bool = False,
                      head: Optional[nn.Module] = None) -> nn.Module:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    head = nn.Linear(enc.embed_dim, num_classes) if head is None else head
    params = list(head.parameters()) + ([] if freeze else list(enc.parameters()))
    opt = torch.optim.Adam(params, lr=lr)
    n = x.shape[0]
    if freeze:  # frozen encoder: embed once (eval mode, no dropout); standardise like the benchmark
        with torch.no_grad():
            enc.eval()
            frozen = enc(x)
            mu, sd = frozen.mean(0), frozen.std(0).clamp_min(1e-6)
            frozen = (frozen - mu) / sd
        head.register_buffer("mu", mu)
        head.register_buffer("sd", sd)
    else:
        enc.train()
    for _ in range(steps):
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g)
        e = frozen[idx] if freeze else enc(x[idx])
        loss = F.cross_entropy(head(e), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    enc.eval()
    return head


@torch.no_grad()
def _evaluate(enc: LocationEncoder, head: nn.Module, x: torch.Tensor, y: np.ndarray, frozen: bool) -> dict:
    enc.eval()
    e = enc(x)
    if frozen:
        e = (e - head.mu) / head.sd
    pred = head(e).argmax(1).numpy()
    return {"acc": accuracy(y, pred), "macro_f1": macro_f1(y, pred)}


def run_fewshot(pretrained: Union[str, Path, LocationEncoder], task: str = "koppen", *,
                fractions: Sequence[float] = (0.05, 0.1, 0.2, 1.0), seeds: Sequence[int] = (0, 1, 2),
                steps: int = 300, batch_size: int = 256, lr: float = 1e-3, n_points: int = 20_000,
                methods: Sequence[str] = METHODS, points: Optional[tuple[np.ndarray, np.ndarray]] = None,
                log: Optional[Callable[[str], None]] = print) -> list[dict]:
    """One row per (method, fraction, seed) with test accuracy and macro-F1 on ``task``."""
    log = log or (lambda _m: None)
    if isinstance(pretrained, LocationEncoder):
        state = {k: v.clone() for k, v in pretrained.state_dict().items()}
        base_cfg = pretrained.config
    else:
        m = LocationEncoder.from_pretrained(str(pretrained))
        state, base_cfg = m.state_dict(), m.config
    lonlat, labels = points if points is not None else task_points(task, n_points)
    k = int(labels.max()) + 1
    log(f"{task}: {len(labels)} points, {k} classes")
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown method(s) {sorted(unknown)}; choose from {', '.join(METHODS)}")

    def fresh_pretrained() -> LocationEncoder:
        enc = LocationEncoder(base_cfg)
        enc.load_state_dict(state)
        return enc

    rows = []
    for seed in seeds:
        split = blocked_split(lonlat, seed, block_deg=10.0, val_frac=0.0, test_frac=0.25)
        tr, te = split["train"], split["test"]
        x_te = torch.from_numpy(lonlat[te]).float()
        for frac in fractions:
            sub = tr[stratified_subset(labels[tr], frac, np.random.default_rng(1000 * seed + int(frac * 100)))]
            x = torch.from_numpy(lonlat[sub]).float()
            y = torch.from_numpy(labels[sub])
            probe: Optional[nn.Module] = None  # the csp-linear head, shared with csp-lpft
            for method in methods:
                torch.manual_seed(seed)
                enc = LocationEncoder(WRAP_CONFIG) if method == "wrap" else \
                    LocationEncoder(base_cfg) if method == "scratch" else fresh_pretrained()
                frozen = method == "csp-linear"
                if method in ("csp-linear", "csp-lpft") and probe is None:
                    probe = _train_classifier(fresh_pretrained(), x, y, k, steps=steps, batch_size=batch_size, lr=1e-2,
                                              seed=seed, freeze=True)
                head: nn.Module
                if method == "csp-linear":
                    head = cast(nn.Module, probe)
                elif method == "csp-lpft":
                    head = _train_classifier(enc, x, y, k, steps=steps, batch_size=batch_size, lr=lr / 10, seed=seed,
                                             head=_folded_head(cast(nn.Module, probe)))
                else:
                    head = _train_classifier(enc, x, y, k, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
                res = _evaluate(enc, head, x_te, labels[te], frozen)
                rows.append({"task": task, "method": method, "fraction": frac, "seed": seed, "n_train": int(len(sub)),
                             "n_test": int(len(te)), **res})
                log(f"{task} seed {seed} frac {frac:.2f} n={len(sub)} {method:10s} acc {res['acc']:.4f} "
                    f"f1 {res['macro_f1']:.4f}")
    return rows


def format_table(rows: list[dict], metric: str = "acc") -> str:
    """Markdown table: methods x fractions, mean ± std over seeds of ``metric`` (in %)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fracs = sorted({r["fraction"] for r in rows})
    lines = ["| method | " + " | ".join(f"{f * 100:g} %" for f in fracs) + " |", "|" + "---|" * (len(fracs) + 1)]
    for m in methods:
        cells = []
        for f in fracs:
            vals = np.array([r[metric] for r in rows if r["method"] == m and r["fraction"] == f]) * 100
            cells.append(f"{vals.mean():.1f} ± {vals.std(ddof=1) if len(vals) > 1 else 0.0:.1f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m recipes.geofields.fewshot --model DIR [--tasks koppen,country] [--out table.json]``."""
    import argparse
    import time

    ap = argparse.ArgumentParser(description="few-shot fine-tuning: CSP-pre-trained vs scratch vs wrap")
    ap.add_argument("--model", required=True, help="pre-trained model directory or registered name")
    ap.add_argument("--tasks", default="koppen,country", help="comma-separated benchmark classification tasks")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--n-points", type=int, default=20_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1, 0.2, 1.0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave torch's default)")
    ap.add_argument("--out", default=None, help="write the rows and tables as JSON here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    result: dict = {"steps": args.steps, "seeds": args.seeds, "tables": {}, "rows": []}
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        rows = run_fewshot(args.model, task, fractions=args.fractions, seeds=args.seeds, steps=args.steps,
                           n_points=args.n_points, methods=args.methods)
        result["rows"] += rows
        for metric in ("acc", "macro_f1"):
            table = format_table(rows, metric)
            result["tables"][f"{task}/{metric}"] = table
            print(f"\n{task} {metric} (%, mean ± std over seeds {args.seeds}, {args.steps} steps)\n{table}")
    result["seconds"] = round(time.time() - t0, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
