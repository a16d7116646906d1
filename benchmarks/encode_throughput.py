"""Throughput of ``LocationEncoder.encode`` for every position encoder with the CSP FFN.

For each registered family: points/s of ``encode`` at batch 65,536 on this machine's CPU
(float32, eval mode), with the CSP network (hidden 512, embedding 256, 1 hidden layer). The
ceiling is the grid model's two matrix products alone (128 -> 512 -> 256, no bias, activation or
LayerNorm) over 1,024-row chunks into preallocated buffers. The grid encoder's share of that
ceiling is measured with the two interleaved (robust to a shared VM's drift): best and median of
the rounds. Then where the grid model's time goes, module by module (each stage runs the model's
own submodule on the chunks ``encode`` uses), and, with ``--chunks``, encode's speed for each
number of rows per chunk (256-4096; ``geoloc_embed.encoders.model._CPU_CHUNK_ROWS``).

Usage:
    python benchmarks/encode_throughput.py [--points 65536] [--repeats 9] [--threads N]
                                           [--grid-only] [--chunks] [--no-breakdown]
"""

import argparse
import statistics
import time
from typing import Callable

import numpy as np
import torch

import geoloc_embed as ge
import geoloc_embed.encoders.model as model_module
from geoloc_embed.coords import sample_uniform_sphere

#: Rows per chunk of the ceiling (the matrix products over preallocated chunk buffers).
CEILING_CHUNK = 1024


def best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_ceiling_run(n: int, in_dim: int, hidden: int, out: int, chunk: int = CEILING_CHUNK) -> Callable[[], None]:
    """The two matrix products alone over ``chunk``-row chunks into preallocated buffers."""
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


def interleaved(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each run, calling them in turn each round (after one warm-up each).

    On a shared VM the speed drifts by tens of percent within a minute; alternating the runs
    exposes all of them to the same conditions.
    """
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def minor_faults_per_call(fn: Callable[[], object], calls: int = 3) -> float:
    """Minor page faults per call of ``fn`` in steady state (Unix only; -1 elsewhere).

    Memory freed by one chunk and faulted back in by the next shows up here (tens of thousands per
    encode if the allocator returns it to the OS between chunks)."""
    try:
        import resource
    except ImportError:  # Windows
        return -1.0
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def grid_share(model: ge.LocationEncoder, points: np.ndarray, rounds: int) -> tuple[list[float], list[float]]:
    """(encode seconds, ceiling seconds) per round, interleaved."""
    n = len(points)
    out = np.empty((n, model.embed_dim), dtype=np.float32)
    times = interleaved({"encode": lambda: model.encode(points, out=out),
                         "ceiling": gemm_ceiling_run(n, model.position_encoder.out_dim, model.config.hidden_dim,
                                                     model.embed_dim)}, rounds)
    return times["encode"], times["ceiling"]


def stage_breakdown(model: ge.LocationEncoder, points: np.ndarray, repeats: int) -> list[tuple[str, float]]:
    """Seconds per stage of ``encode`` for the grid model, over encode's chunks.

    Each stage calls the model's own submodules on realistic inputs (outputs of the previous
    stage). A layer is timed cumulatively (Linear; Linear + activation; the whole layer) so every
    activation acts on a fresh Linear output, as in ``encode``; a stage's cost is the difference of
    two best times (interleaved rounds), floored at 0. "copy into out" is the copy of each chunk's
    result into the output array.
    """
    chunk = model_module._CPU_CHUNK_ROWS
    x = torch.as_tensor(points, dtype=torch.float32)
    n = len(x) - len(x) % chunk
    runs: list[tuple[str, Callable[[int], object]]] = []
    with torch.no_grad():
        features = model.position_encoder(x[:chunk])
        runs.append(("position encoding", lambda lo: model.position_encoder(x[lo:lo + chunk])))
        inputs = features
        for index, layer in enumerate(model.network.layers):
            def partial(lo: int, layer=layer, a=inputs, depth: int = 0) -> object:
                if depth == 2:
                    return layer(a)  # the whole layer (its own forward)
                out = layer.linear(a)
                return layer.activation(out) if depth == 1 else out

            parts = ["Linear (addmm)", "activation"] + (["residual + LayerNorm"] if layer.layernorm is not None
                                                        or layer.residual else [])
            for depth, part in enumerate(parts):
                runs.append((f"layer {index}: {part}", lambda lo, p=partial, d=depth: p(lo, depth=d)))
            inputs = layer(inputs)
        target = torch.empty(n, model.embed_dim)
        runs.append(("copy into out", lambda lo: target[lo:lo + chunk].copy_(inputs)))
        best = {name: float("inf") for name, _ in runs}
        for round_index in range(repeats + 1):  # interleaved rounds, the first a warm-up; best of each
            for name, stage in runs:
                start = time.perf_counter()
                for lo in range(0, n, chunk):
                    stage(lo)
                if round_index:
                    best[name] = min(best[name], time.perf_counter() - start)
    stages, previous = [], 0.0
    for name, seconds in best.items():
        cumulative = name.startswith("layer") and not name.endswith("(addmm)")
        stages.append((name, max(seconds - previous, 0.0) if cumulative else seconds))
        previous = seconds
    return stages


def family_config(family: str) -> ge.LocationEncoderConfig:
    """``family`` with its own paper's defaults + CSP's FFN (the same network for every row); GeoCLIP's
    Equal-Earth RFF with its own MLP branches (``MLPConfig``'s defaults are GeoCLIP's), as released."""
    network = "mlp" if family == "equal-earth-rff" else "csp-ffn"
    return ge.LocationEncoderConfig(position_encoder=family, network=network)


def chunk_sweep(model: ge.LocationEncoder, points: np.ndarray, rounds: int,
                sizes: tuple[int, ...] = (256, 512, 1024, 2048, 4096)) -> dict[int, list[float]]:
    """Seconds per encode call for each number of rows per chunk, interleaved."""
    out = np.empty((len(points), model.embed_dim), dtype=np.float32)
    default = model_module._CPU_CHUNK_ROWS

    def with_chunk(rows: int) -> Callable[[], object]:
        def run() -> object:
            model_module._CPU_CHUNK_ROWS = rows
            try:
                return model.encode(points, out=out)
            finally:
                model_module._CPU_CHUNK_ROWS = default
        return run

    times = interleaved({str(rows): with_chunk(rows) for rows in sizes}, rounds)
    return {int(rows): seconds for rows, seconds in times.items()}


def family_table(points: np.ndarray, repeats: int) -> None:
    """Every registered family's encode rate and its share of the two-matmul ceiling."""
    n = len(points)
    ceiling_run = gemm_ceiling_run(n, 128, 512, 256)
    ceiling = n / best_time(ceiling_run, repeats)
    print(f"two-matmul ceiling (128 -> 512 -> 256, {CEILING_CHUNK}-row chunks): {ceiling:,.0f} points/s\n")
    print("| position encoder | features | points/s | share of ceiling |")
    print("|---|---:|---:|---:|")
    for family in ge.list_position_encoders():
        config = family_config(family)
        model = ge.LocationEncoder(config).eval()
        rate = n / best_time(lambda: model.encode(points, batch_size=n), repeats)
        note = "" if config.network.name == "csp-ffn" else f" ({config.network.name} network)"
        print(f"| {family}{note} | {model.position_encoder.out_dim} | {rate:,.0f} | {rate / ceiling:.2f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--grid-only", action="store_true",
                        help="skip the table of families: grid vs ceiling (interleaved) and the breakdown only")
    parser.add_argument("--chunks", action="store_true", help="also sweep encode's rows per chunk (256-4096)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the stage breakdown")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    points = sample_uniform_sphere(args.points, generator=torch.Generator().manual_seed(0)).numpy()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.points:,} points, float32, CPU, "
          f"encode chunks of {model_module._CPU_CHUNK_ROWS} rows")
    if not args.grid_only:
        family_table(points, args.repeats)
    grid = ge.create_model("csp-grid").eval()
    encode, ceiling = grid_share(grid, points, args.repeats)
    n = args.points
    ratios = [c / e for e, c in zip(encode, ceiling, strict=True)]
    print(f"grid encoder, interleaved with the ceiling ({args.repeats} rounds): "
          f"best {n / min(encode):,.0f} / {n / min(ceiling):,.0f} points/s = {min(ceiling) / min(encode):.2f}; "
          f"median {n / statistics.median(encode):,.0f} / {n / statistics.median(ceiling):,.0f} points/s, "
          f"median of the per-round ratios {statistics.median(ratios):.2f} (target >= 0.75)")
    out = np.empty((n, grid.embed_dim), dtype=np.float32)
    print(f"minor page faults per encode of {n:,} points (steady state): "
          f"{minor_faults_per_call(lambda: grid.encode(points, out=out)):,.0f}")
    if args.chunks:
        sweep = chunk_sweep(grid, points, args.repeats)
        print("\nencode (grid model) by rows per chunk, interleaved:\n")
        print("| rows per chunk | best points/s | median points/s |")
        print("|---:|---:|---:|")
        for rows, seconds in sweep.items():
            print(f"| {rows} | {n / min(seconds):,.0f} | {n / statistics.median(seconds):,.0f} |")
    if not args.no_breakdown:
        print(f"\nwhere encode's time goes (grid model, {args.points:,} points, "
              f"{model_module._CPU_CHUNK_ROWS}-row chunks, the model's own modules):\n")
        print("| stage | ms | share |")
        print("|---|---:|---:|")
        breakdown = stage_breakdown(grid, points, args.repeats)
        total = sum(seconds for _, seconds in breakdown)
        for name, seconds in breakdown:
            print(f"| {name} | {seconds * 1e3:.1f} | {seconds / total:.0%} |")
        products = sum(seconds for name, seconds in breakdown if "addmm" in name)
        print(f"| sum of stages | {total * 1e3:.1f} | matrix products {products / total:.0%} |")


if __name__ == "__main__":
    np.set_printoptions(suppress=True)
    main()
