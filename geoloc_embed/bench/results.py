"""The benchmark's results: ``BenchResult`` (one row per model/task/seed/split/probe/metric, aggregated
over seeds by ``summary()``) and the reports written from it.

``write_reports`` writes, atomically: results.csv (mean/std over seeds), results_seeds.csv (every
seed), results.md (the tables, best mean per row in bold, with the models, tasks and caveats) and
run.json (configuration, versions, timings).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .._version import __version__
from ..io import atomic_write_text
from .config import BenchConfig
from .models import Embedder
from .tasks import Task

__all__ = ["BenchResult", "markdown_tables", "write_reports", "CLS_METRICS", "REG_METRICS", "LOWER_IS_BETTER"]

CLS_METRICS = ("accuracy", "macro_f1")
REG_METRICS = ("r2", "rmse")
LOWER_IS_BETTER = {"rmse"}


@dataclass
class BenchResult:
    """Everything one run produced: the metric rows, what was skipped and why, timings, files written."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # one per model/task/seed/split/probe/metric
    skipped_models: dict[str, str] = field(default_factory=dict)
    skipped_tasks: dict[str, str] = field(default_factory=dict)
    models: list[Embedder] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    task_sizes: dict[str, int] = field(default_factory=dict)
    task_classes: dict[str, tuple[int, int]] = field(default_factory=dict)  # (seen in the sample, defined)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> {"embed": s, "probe": s}
    task_seconds: dict[str, float] = field(default_factory=dict)  # wall time per task, all models
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def summary(self) -> list[dict[str, Any]]:
        """Rows aggregated over seeds: mean, std (sample std, 0 for one seed) and n_seeds."""
        groups: dict[tuple, list[float]] = {}
        for r in self.rows:
            key = (r["model"], r["task"], r["split"], r["probe"], r["metric"])
            groups.setdefault(key, []).append(r["value"])
        out = []
        for (model, task, split, probe, metric), values in groups.items():
            arr = np.asarray(values, dtype=np.float64)
            out.append({"model": model, "task": task, "split": split, "probe": probe, "metric": metric,
                        "mean": float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan"),
                        "std": float(np.nanstd(arr, ddof=1)) if np.isfinite(arr).sum() > 1 else 0.0,
                        "n_seeds": int(arr.size)})
        return out


def _fmt(mean: float, std: float, n: int, metric: str) -> str:
    if not math.isfinite(mean):
        return "n/a"
    digits = 1 if metric == "rmse" and abs(mean) >= 100 else 3
    text = f"{mean:.{digits}f}"
    if n > 1:
        text += f" ± {std:.{digits}f}"
    return text


def markdown_tables(result: BenchResult, config: BenchConfig) -> str:
    """One table per (split, probe): rows task/metric, columns models, best mean in bold."""
    summary = {(r["model"], r["task"], r["split"], r["probe"], r["metric"]): r for r in result.summary()}
    model_names = [m.name for m in result.models]
    lines: list[str] = []
    split_title = {"blocked": f"spatially blocked split ({config.block_deg:g}° equal-area blocks held out)",
                   "random": "random split"}
    for split in config.splits:
        for probe in config.probes:
            probe_title = ("linear probe (ridge / L2 logistic, L2 chosen on validation)" if probe == "linear"
                           else f"MLP probe ({config.mlp_layers} x {config.mlp_hidden}, early stopping)")
            lines.append(f"### {split_title[split].capitalize()}: {probe_title}")
            lines.append("")
            lines.append("| task | metric | " + " | ".join(model_names) + " |")
            lines.append("|---|---|" + "---|" * len(model_names))
            for task in result.tasks:
                for metric in (CLS_METRICS if task.is_classification else REG_METRICS):
                    cells = [summary.get((m, task.name, split, probe, metric)) for m in model_names]
                    means = [c["mean"] if c and math.isfinite(c["mean"]) else None for c in cells]
                    valid = [v for v in means if v is not None]
                    best = (min(valid) if metric in LOWER_IS_BETTER else max(valid)) if valid else None
                    texts = []
                    for c, v in zip(cells, means, strict=False):
                        if c is None:
                            texts.append("–")
                            continue
                        t = _fmt(c["mean"], c["std"], c["n_seeds"], metric)
                        texts.append(f"**{t}**" if v is not None and v == best and len(valid) > 1 else t)
                    unit = f" ({task.units})" if metric == "rmse" and task.units else ""
                    lines.append(f"| {task.name} | {metric}{unit} | " + " | ".join(texts) + " |")
            lines.append("")
    return "\n".join(lines)


def write_reports(result: BenchResult, config: BenchConfig, out: Path, *, command: Optional[str] = None) -> list[Path]:
    """Write results.md, results.csv (mean/std), results_seeds.csv (every seed) and run.json atomically."""
    out.mkdir(parents=True, exist_ok=True)
    written = []

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["model", "task", "split", "probe", "metric", "mean", "std", "n_seeds"],
                            lineterminator="\n")
    writer.writeheader()
    for row in result.summary():
        writer.writerow({**row, "mean": f"{row['mean']:.6g}", "std": f"{row['std']:.6g}"})
    atomic_write_text(out / "results.csv", buf.getvalue())
    written.append(out / "results.csv")

    buf = io.StringIO()
    fields = ["model", "task", "seed", "split", "probe", "metric", "value", "n_train", "n_val", "n_test", "hyper"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        writer.writerow({**row, "value": f"{row['value']:.6g}"})
    atomic_write_text(out / "results_seeds.csv", buf.getvalue())
    written.append(out / "results_seeds.csv")

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = ["# geoloc-embed benchmark results", ""]
    if command:
        md += ["Regenerate with:", "", "```", command, "```", ""]
    train_pct = round(100 * (1 - config.val_frac - config.test_frac))
    md += [(f"geoloc-embed {__version__}, {now}, Python {platform.python_version()}, "
            f"{platform.machine()}; configuration `{config.name}`: {config.n_points} points per task, "
            f"seeds {list(config.seeds)}, {train_pct}/{round(100 * config.val_frac)}/"
            f"{round(100 * config.test_frac)} train/val/test ({config.block_deg:g}° equal-area blocks "
            "for the blocked split). Mean ± sample std over seeds; best mean per row in bold. "
            "Accuracy, macro-F1 and R² higher is better; RMSE lower is better."), ""]
    md += ["## Models", "", ("Wall-clock seconds spent embedding the task points and fitting the probes, and the "
                             "CPU seconds of both (all threads; on a busy machine CPU time is the steadier figure)."),
           "",
           "| model | description | dim | embed s | probe s | CPU s |", "|---|---|---|---|---|---|"]
    for m in result.models:
        timing = result.timings.get(m.name, {})
        md.append(f"| {m.name} | {m.description} | {m.dim if m.dim is not None else '?'} | "
                  f"{timing.get('embed', 0.0):.1f} | {timing.get('probe', 0.0):.1f} | {timing.get('cpu', 0.0):.1f} |")
    for spec, reason in result.skipped_models.items():
        md.append(f"| {spec} | skipped: {reason} | | | | |")
    md += ["", "## Results", "", markdown_tables(result, config)]
    md += ["## Tasks", "", "| task | type | domain | points | source | license | resolution | label |",
           "|---|---|---|---|---|---|---|---|"]
    for t in result.tasks:
        if t.is_classification:
            seen, defined = result.task_classes.get(t.name, (0, 0))
            kind = f"{defined}-class ({seen} in the sample)"
        else:
            kind = f"regression ({t.units})"
        md.append(f"| {t.name} | {kind} | {t.domain} | {result.task_sizes.get(t.name, '')} | {t.source} | "
                  f"{t.license} | {t.resolution} | {t.label_definition} |")
    for name, reason in result.skipped_tasks.items():
        md.append(f"| {name} | skipped | | | {reason} | | | |")
    md += ["", "Caveats:", ""]
    md += [f"- **{t.name}**: {t.caveats}" for t in result.tasks if t.caveats]
    if result.notes:
        md += ["", "Notes:", ""] + [f"- {n}" for n in result.notes]
    md.append("")
    atomic_write_text(out / "results.md", "\n".join(md))
    written.append(out / "results.md")

    run = {
        "command": command, "finished": now, "geoloc_embed": __version__, "python": platform.python_version(),
        "config": config.to_dict(), "models": [{"name": m.name, "description": m.description, "dim": m.dim,
                                                **m.meta} for m in result.models],
        "skipped_models": result.skipped_models, "skipped_tasks": result.skipped_tasks,
        "tasks": [{**t.describe(), "points": result.task_sizes.get(t.name)} for t in result.tasks],
        "timings_s": result.timings, "task_seconds": result.task_seconds, "wall_seconds": result.wall_seconds,
        "notes": result.notes,
    }
    atomic_write_text(out / "run.json", json.dumps(run, indent=2, default=str) + "\n")
    written.append(out / "run.json")
    return written
