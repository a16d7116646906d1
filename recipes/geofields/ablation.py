"""One row of the model card's ablation table per model: proxy signals only, no benchmark label.

    python -m recipes.geofields.ablation weights/csp-geofields /tmp/run2 xyz raw

For a saved run (a directory written by the recipe) the row has the held-out CSP loss and the
effective rank from its ``training_summary.json``, then the proxies of ``diagnostics``: spatially
held-out ridge R² of the 38 pre-training channels and of the 7 fields pre-training never sees
(``proxies``; 6,000 uniform points), ridge accuracy on 30 / 300 random Voronoi cells of the sphere,
and the benchmark's linear / MLP probes on 12 random Voronoi cells of the land. A baseline name of
``geoloc_embed.bench.models.BASELINES`` (``raw``, ``xyz``) gets the land-cell columns only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from geoloc_embed.bench.models import resolve_model

from .diagnostics import coarse_land_partition, heldout_partition_accuracy, heldout_reconstruction, uniform_points
from .proxies import proxy_targets

__all__ = ["ablation_row", "main"]

COLUMNS = ("held-out CSP loss", "eff. rank (trained / whitened)", "R² pre-training fields",
           "R² 7 fields never trained on", "Voronoi cells 30 / 300", "land cells 12: linear / MLP")


def ablation_row(name: str) -> list[str]:
    """The cells of ``COLUMNS`` for one model directory or baseline name ("-" where not applicable)."""
    embed = resolve_model(name).embed
    summary_path = Path(name) / "training_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    land = coarse_land_partition(embed)
    land_cell = f"{land['linear']:.3f} / {land['mlp']:.3f}"
    if summary is None:
        return ["-", "-", "-", "-", "-", land_cell]
    lonlat = uniform_points(6000, seed=777)
    targets, names = proxy_targets(lonlat)
    r2 = heldout_reconstruction(embed, lonlat, targets, seeds=(0,))
    heldout = np.array([n.startswith("heldout:") for n in names])
    cells = heldout_partition_accuracy(embed, lonlat, num_cells=(30, 300))
    rank = summary["effective_rank"]
    val_loss = summary["history"][-1].get("val_loss", float("nan"))
    return [f"{val_loss:.3f}", f"{rank['trained']:.1f} / {rank['final']:.1f}",
            f"{np.nanmean(r2[~heldout]):.3f}", f"{np.nanmean(r2[heldout]):.3f}", f"{cells[0]:.3f} / {cells[1]:.3f}",
            land_cell]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model directories (recipe outputs) or baseline names")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("| model | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for name in args.models:
        print(f"| {name} | " + " | ".join(ablation_row(name)) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
