"""Timing helpers shared by the benchmarks: best-of timing, interleaved rounds, the two-matmul ceiling.

On a shared VM the speed drifts by tens of percent within a minute; the interleaved helpers call
the runs in turn each round so that all of them meet the same conditions. Compare ratios from one
run only.
"""

import math
import time
from typing import Callable, Dict

import torch

__all__ = ["CEILING_CHUNK", "best_time", "gemm_ceiling_run", "interleaved", "interleaved_best"]

#: Rows per chunk of the ceiling (the matrix products over preallocated chunk buffers).
CEILING_CHUNK = 1024


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` after one warm-up call, seconds."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_ceiling_run(n: int, in_dim: int, hidden: int, out: int, chunk: int = CEILING_CHUNK) -> Callable[[], None]:
    """The two matrix products alone over ``chunk``-row chunks into preallocated buffers.

    (n, in_dim) @ (in_dim, hidden) -> (chunk, hidden) buffer, @ (hidden, out) -> rows of an (n, out)
    output: the CSP FFN's shape without bias, activation or LayerNorm, float32 on the CPU.
    """
    generator = torch.Generator().manual_seed(0)
    w1, w2 = torch.randn(in_dim, hidden, generator=generator), torch.randn(hidden, out, generator=generator)
    x = torch.randn(n, in_dim, generator=generator)
    h_chunk, y_full = torch.empty(chunk, hidden), torch.empty(n, out)

    def run() -> None:
        for lo in range(0, n, chunk):
            rows = x[lo:lo + chunk]
            torch.mm(rows, w1, out=h_chunk[:rows.shape[0]])
            torch.mm(h_chunk[:rows.shape[0]], w2, out=y_full[lo:lo + chunk])

    return run


def interleaved(runs: Dict[str, Callable[[], object]], rounds: int) -> Dict[str, list]:
    """Seconds per call of each run, calling them in turn each round (after one warm-up each)."""
    for run in runs.values():
        run()
    times: Dict[str, list] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_best(fns: Dict[str, Callable[[], object]], repeats: int, warmup: bool = True) -> Dict[str, float]:
    """Best wall time per function; one warm-up each (unless the caller already ran them), then
    ``repeats`` rounds calling each in turn."""
    if warmup:
        for fn in fns.values():
            fn()
    best = {name: math.inf for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
