"""The benchmark runner: sample points, read labels (cached), embed, split, probe, score, report.

Protocol (per task, per seed):

1. ``n_points`` points: uniform on the sphere with a fixed seed, kept where the task's label is
   defined (land-only tasks keep land points); point datasets draw ``n_points`` of their points.
2. Two splits of those points into train / validation / test (60 / 20 / 20 by default): ``blocked``
   holds out whole equal-area blocks (~10 x 10 degrees) so that no test point has training
   neighbours in its block; ``random`` is the usual i.i.d. split (spatial interpolation).
3. Each model's frozen embeddings, standardised on the training fold, feed a linear probe (ridge /
   L2 logistic regression, L2 chosen on validation) and a small MLP probe (early-stopped on validation).
4. Test metrics: accuracy and macro-F1 (classification), R² and RMSE in label units (regression).

Seeds change the points, the split and the MLP initialisation; the table reports mean ± std over seeds.
Everything is deterministic given the seeds.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as _dt
import io
import json
import math
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .data import bench_cache_dir, cache_key, load_cached_arrays, save_cached_arrays
from .models import Embedder, ModelUnavailable, expand_model_specs, resolve_model
from .probes import classification_metrics, fit_linear_probe, fit_mlp_probe, regression_metrics
from .splits import make_split
from .tasks import Task, get_task, resolve_tasks

__all__ = ["BenchConfig", "BenchResult", "run_benchmark", "cached_sample", "SAMPLER_ID"]

#: Identifies the point sampler in label-cache keys; change it if sampling changes.
SAMPLER_ID = "uniform-sphere-coords-torch-v2"  # v2: geoloc_embed.coords.sample_uniform_sphere (v1: numpy PCG64)

CLS_METRICS = ("accuracy", "macro_f1")
REG_METRICS = ("r2", "rmse")
LOWER_IS_BETTER = {"rmse"}


@dataclass
class BenchConfig:
    """Benchmark settings. ``BenchConfig.quick()`` is the CI configuration."""

    n_points: int = 8000
    seeds: tuple[int, ...] = (0, 1, 2)
    splits: tuple[str, ...] = ("blocked", "random")
    probes: tuple[str, ...] = ("linear", "mlp")
    block_deg: float = 10.0
    val_frac: float = 0.2
    test_frac: float = 0.2
    mlp_hidden: int = 256
    mlp_layers: int = 2
    mlp_max_epochs: int = 100
    mlp_patience: int = 10
    logistic_max_iter: int = 50
    maps: bool = True
    map_task: Optional[str] = None  # default: "temperature" if run, else the first task
    map_res_deg: float = 2.0  # grid of both maps (prediction vs truth, PCA RGB)
    use_cache: bool = True
    progress: bool = True
    batch_size: int = 8192
    #: torch intra-op threads during the run (restored afterwards); 0 leaves torch's setting alone.
    #: One thread is the fastest for the many small probe fits and immune to oversubscription.
    threads: int = 1
    name: str = "full"

    def __post_init__(self) -> None:
        self.seeds = tuple(int(s) for s in self.seeds)
        self.splits = tuple(self.splits)
        self.probes = tuple(self.probes)
        if self.n_points < 50:
            raise ValueError(f"n_points must be at least 50, got {self.n_points}")
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        for s in self.splits:
            if s not in ("blocked", "random"):
                raise ValueError(f"unknown split {s!r}; choose blocked and/or random")
        for p in self.probes:
            if p not in ("linear", "mlp"):
                raise ValueError(f"unknown probe {p!r}; choose linear and/or mlp")
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise ValueError("val_frac and test_frac must be in (0, 1) and sum to less than 1")

    @classmethod
    def quick(cls, **changes: Any) -> "BenchConfig":
        """Few points, one seed, short MLP training, coarse maps: a smoke test / CI configuration."""
        base = dict(n_points=1500, seeds=(0,), mlp_max_epochs=15, mlp_patience=4, logistic_max_iter=30,
                    map_res_deg=6.0, name="quick")
        base.update(changes)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["seeds"] = list(self.seeds)
        out["splits"] = list(self.splits)
        out["probes"] = list(self.probes)
        return out


@dataclass
class BenchResult:
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


def _log_default(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cached_sample(task: Task, n: int, seed: int, *, use_cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The task's points and labels for (n, seed), from ``$GEOLOC_EMBED_CACHE/bench/labels`` when cached."""
    key = cache_key({"task": task.name, "task_version": task.version, "data": task.data_version(), "n": n,
                     "seed": seed, "sampler": SAMPLER_ID})
    path = bench_cache_dir() / "labels" / task.name / f"n{n}-seed{seed}-{key}.npz"
    if use_cache:
        cached = load_cached_arrays(path)
        if cached is not None and "lonlat" in cached and "y" in cached:
            return cached["lonlat"], cached["y"]
    lonlat, y = task.sample(n, seed)
    if use_cache:
        save_cached_arrays(path, lonlat=lonlat, y=y)
    return lonlat, y


def grid_points(res_deg: float) -> tuple[np.ndarray, int, int]:
    """Cell centres of a global lon/lat grid, rows from north to south; returns (points, n_rows, n_cols)."""
    n_cols = max(2, int(round(360.0 / res_deg)))
    n_rows = max(1, int(round(180.0 / res_deg)))
    lon = -180.0 + (np.arange(n_cols) + 0.5) * (360.0 / n_cols)
    lat = 90.0 - (np.arange(n_rows) + 0.5) * (180.0 / n_rows)
    lon_g, lat_g = np.meshgrid(lon, lat)
    return np.stack([lon_g.ravel(), lat_g.ravel()], axis=1), n_rows, n_cols


def cached_grid_labels(task: Task, res_deg: float, *, use_cache: bool = True) -> np.ndarray:
    pts, _, _ = grid_points(res_deg)
    key = cache_key({"task": task.name, "task_version": task.version, "data": task.data_version(),
                     "grid": res_deg})
    path = bench_cache_dir() / "labels" / task.name / f"grid{res_deg:g}-{key}.npz"
    if use_cache:
        cached = load_cached_arrays(path)
        if cached is not None and "y" in cached:
            return cached["y"]
    y = task.labels(pts)
    if use_cache:
        save_cached_arrays(path, y=y)
    return y


def _metrics(kind: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return classification_metrics(y_true, y_pred) if kind == "classification" else regression_metrics(y_true, y_pred)


def run_benchmark(models: Sequence[str], tasks: str | Sequence[str] = "all", config: Optional[BenchConfig] = None,
                  out_dir: Optional[str | Path] = None, *, log: Callable[[str], None] = _log_default,
                  command: Optional[str] = None) -> BenchResult:
    """Run the benchmark and (when ``out_dir`` is given) write results.md, results.csv, results_seeds.csv,
    run.json and maps/*.png there.

    Args:
        models: baseline names (see ``geoloc_embed.bench.models``), ``"baselines"``, registered names,
            model directories, original checkpoints: anything ``LocationEncoder.from_pretrained`` accepts.
            Models that cannot be loaded are skipped with a message (``result.skipped_models``).
        tasks: ``"all"``, a comma-separated string or a list of task names. Tasks whose data package
            is missing are skipped with a message.
        config: ``BenchConfig()`` (full) or ``BenchConfig.quick()``.
    """
    config = config or BenchConfig()
    return _run(models, tasks, config, out_dir, log=log, command=command)


@contextlib.contextmanager
def _torch_threads(n: int):
    import torch

    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n > 0:
            torch.set_num_threads(before)


def _run(models: Sequence[str], tasks: str | Sequence[str], config: BenchConfig, out_dir: Optional[str | Path], *,
         log: Callable[[str], None], command: Optional[str]) -> BenchResult:
    start_all = time.perf_counter()
    result = BenchResult()
    specs = expand_model_specs(list(models))
    if not specs:
        raise ValueError("no models given; try --model baselines")

    for spec in specs:
        try:
            emb = resolve_model(spec)
        except ModelUnavailable as exc:
            result.skipped_models[spec] = str(exc)
            log(f"[bench] skipping model {spec}: {exc}")
            continue
        if any(m.name == emb.name for m in result.models):
            emb.name = f"{emb.name}#{len(result.models)}"
        result.models.append(emb)
        result.timings[emb.name] = {"embed": 0.0, "probe": 0.0, "cpu": 0.0}
    if not result.models:
        raise ModelUnavailable("none of the requested models could be loaded: " +
                               "; ".join(result.skipped_models.values()))

    task_names = resolve_tasks(tasks)
    task_objs: list[Task] = []
    for name in task_names:
        task = get_task(name)
        if not task.available():
            reason = task.unavailable_reason()
            result.skipped_tasks[name] = reason
            log(f"[bench] skipping task {name}: {reason}")
            continue
        task_objs.append(task)
    result.tasks = task_objs
    if not task_objs:
        raise RuntimeError("none of the requested tasks has its data installed: " +
                           "; ".join(result.skipped_tasks.values()) + ' (pip install "geoloc-embed[bench]")')

    map_task = config.map_task or ("temperature" if "temperature" in [t.name for t in task_objs]
                                   else task_objs[0].name)
    map_probes: dict[str, Any] = {}  # model -> (probe, task) for the prediction map
    map_truth: Optional[np.ndarray] = None
    plots_ok = config.maps and out_dir is not None and _have_matplotlib()
    if config.maps and out_dir is not None and not plots_ok:
        result.notes.append("maps skipped: matplotlib is not installed (pip install \"geoloc-embed[plot]\")")
        log("[bench] " + result.notes[-1])

    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(task_objs) * len(config.seeds) * len(result.models), unit="fit", desc="bench",
                   file=sys.stderr, leave=True)
    try:
        for task in task_objs:
            t0 = time.perf_counter()
            for seed in config.seeds:
                lonlat, y = cached_sample(task, config.n_points, seed, use_cache=config.use_cache)
                result.task_sizes[task.name] = int(len(y))
                if task.is_classification and task.name not in result.task_classes:
                    result.task_classes[task.name] = (int(np.unique(y).size), len(task.class_names or []))
                splits = {s: make_split(s, lonlat, seed, block_deg=config.block_deg, val_frac=config.val_frac,
                                        test_frac=config.test_frac) for s in config.splits}
                for model in result.models:
                    if bar is not None:
                        bar.set_postfix_str(f"{task.name} seed={seed} {model.name}")
                    timing = result.timings[model.name]
                    t1, c1 = time.perf_counter(), time.process_time()
                    x = model.embed(lonlat)
                    t2 = time.perf_counter()
                    with _torch_threads(config.threads):
                        _probe_all(task, model, seed, x, y, splits, config, map_task, map_probes, result)
                    timing["embed"] += t2 - t1
                    timing["probe"] += time.perf_counter() - t2
                    timing["cpu"] += time.process_time() - c1
                    if bar is not None:
                        bar.update(1)
            if plots_ok and task.name == map_task:
                map_truth = cached_grid_labels(task, config.map_res_deg, use_cache=config.use_cache)
            result.task_seconds[task.name] = time.perf_counter() - t0
            task.release()
            if bar is None:
                log(f"[bench] {task.name}: done in {result.task_seconds[task.name]:.0f} s")
    finally:
        if bar is not None:
            bar.close()

    if out_dir is not None:
        out = Path(out_dir)
        if plots_ok:
            from .plots import pca_rgb_map, prediction_map

            task = next(t for t in task_objs if t.name == map_task)
            grid, _, _ = grid_points(config.map_res_deg)
            for model in result.models:
                try:
                    grid_emb = model.embed(grid)  # one embedding of the map grid serves both maps
                    if model.name in map_probes and map_truth is not None:
                        result.files.append(prediction_map(out / "maps", model, task, map_probes[model.name],
                                                           map_truth, config.map_res_deg, grid_emb))
                    result.files.append(pca_rgb_map(out / "maps", model, config.map_res_deg, grid_emb))
                except Exception as exc:  # noqa: BLE001 - a plotting failure must not lose the tables
                    result.notes.append(f"map for {model.name} failed: {type(exc).__name__}: {exc}")
                    log("[bench] " + result.notes[-1])
        result.wall_seconds = time.perf_counter() - start_all
        result.files[:0] = write_reports(result, config, out, command=command)
    result.wall_seconds = time.perf_counter() - start_all
    return result


def _probe_all(task: Task, model: Embedder, seed: int, x: np.ndarray, y: np.ndarray, splits: dict,
               config: BenchConfig, map_task: str, map_probes: dict, result: BenchResult) -> None:
    """Fit every probe on every split for one (task, seed, model) and append the test metrics."""
    for split_name, idx in splits.items():
        tr, va, te = idx["train"], idx["val"], idx["test"]
        for probe_name in config.probes:
            if probe_name == "linear":
                probe = fit_linear_probe(task.kind, x[tr], y[tr], x[va], y[va], seed=seed,
                                         max_iter=config.logistic_max_iter)
            else:
                probe = fit_mlp_probe(task.kind, x[tr], y[tr], x[va], y[va], seed=seed,
                                      hidden=config.mlp_hidden, layers=config.mlp_layers,
                                      max_epochs=config.mlp_max_epochs,
                                      patience=config.mlp_patience)
            scores = _metrics(task.kind, y[te], probe.predict(x[te]))
            for metric, value in scores.items():
                result.rows.append({
                    "model": model.name, "task": task.name, "seed": seed, "split": split_name,
                    "probe": probe_name, "metric": metric, "value": value,
                    "n_train": int(len(tr)), "n_val": int(len(va)), "n_test": int(len(te)),
                    "hyper": json.dumps(probe.hyper, default=float),
                })
            if (task.name == map_task and seed == config.seeds[0] and probe_name == "linear"
                    and split_name == config.splits[0]):
                map_probes[model.name] = probe


def _have_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


# ---------------------------------------------------------------------------- reports
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
    from ..io import atomic_write_text

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

    from .. import __version__

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
        t = result.timings.get(m.name, {})
        md.append(f"| {m.name} | {m.description} | {m.dim if m.dim is not None else '?'} | "
                  f"{t.get('embed', 0.0):.1f} | {t.get('probe', 0.0):.1f} | {t.get('cpu', 0.0):.1f} |")
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


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"
