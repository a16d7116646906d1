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
Everything is deterministic given the seeds. The pieces: ``config`` (``BenchConfig``), ``sampling``
(points and cached labels), ``probes``, ``results`` (``BenchResult`` and the reports), ``plots``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from .config import BenchConfig
from .models import Embedder, ModelUnavailable, expand_model_specs, resolve_model
from .plots import pca_rgb_map, prediction_map, safe_name
from .probes import classification_metrics, fit_linear_probe, fit_mlp_probe, regression_metrics
from .results import BenchResult, markdown_tables, write_reports
from .sampling import SAMPLER_ID, cached_grid_labels, cached_sample, grid_points
from .splits import make_split
from .tasks import Task, get_task, resolve_tasks

__all__ = [
    "run_benchmark",
    # re-exported under this module's historical names; they live in config, results, sampling, plots
    "BenchConfig",
    "BenchResult",
    "cached_sample",
    "SAMPLER_ID",
    "cached_grid_labels",
    "grid_points",
    "markdown_tables",
    "write_reports",
    "safe_name",
]


def _log_default(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
def _torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` (> 0) inside the block, restored afterwards."""
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
    return importlib.util.find_spec("matplotlib") is not None
