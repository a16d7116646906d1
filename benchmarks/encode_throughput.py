"""Throughput of ``LocationEncoder.encode`` for every position encoder with the CSP FFN.

For each registered family: points/s of ``encode`` at batch 65,536 on this machine's CPU
(float32, eval mode), with the CSP network (hidden 512, embedding 256, 1 hidden layer). In the
same run it measures the pure two-matmul ceiling of the grid model's FFN shape
(65,536 x 128 -> 512 -> 256, best of whole-batch and cache-sized chunks), and reports the grid
encoder's share of that ceiling, once more with the two measurements interleaved (robust to a
shared VM's drift), then where the grid model's time goes stage by stage.

Usage:
    python benchmarks/encode_throughput.py [--points 65536] [--repeats 5] [--threads N]
"""

import argparse
import time

import numpy as np
import torch

import geoloc_embed as ge
from geoloc_embed.coords import sample_uniform_sphere


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_runs(n: int, in_dim: int, hidden: int, out: int) -> dict:
    """The two matrix products alone (no bias, activation or LayerNorm), whole-batch and in chunks."""
    torch.manual_seed(0)
    w1, w2 = torch.randn(in_dim, hidden), torch.randn(hidden, out)
    x = torch.randn(n, in_dim)
    h_full, y_full = torch.empty(n, hidden), torch.empty(n, out)

    def whole() -> None:
        torch.mm(x, w1, out=h_full)
        torch.mm(h_full, w2, out=y_full)

    runs = {"whole batch": whole}
    for chunk in (1024, 2048):
        h_chunk = torch.empty(chunk, hidden)

        def chunked(chunk: int = chunk, h_chunk: torch.Tensor = h_chunk) -> None:
            for lo in range(0, n, chunk):
                torch.mm(x[lo:lo + chunk], w1, out=h_chunk)
                torch.mm(h_chunk, w2, out=y_full[lo:lo + chunk])

        runs[f"chunks of {chunk}"] = chunked
    return runs


def gemm_ceiling(n: int, in_dim: int, hidden: int, out: int, repeats: int) -> float:
    """Points/s of the best way to run the two matrix products alone."""
    return n / min(best_time(run, repeats) for run in gemm_runs(n, in_dim, hidden, out).values())


def interleaved_share(model: ge.LocationEncoder, points: np.ndarray, rounds: int) -> tuple[float, float]:
    """(encode points/s, ceiling points/s), alternating the two each round, best of each.

    On a shared VM the speed drifts by tens of percent within a minute; alternating the
    measurements exposes both to the same conditions.
    """
    n = len(points)
    runs = gemm_runs(n, 128, 512, 256)
    out = np.empty((n, model.embed_dim), dtype=np.float32)
    encode_times, gemm_times = [], []
    model.encode(points, out=out)
    for run in runs.values():
        run()
    for _ in range(rounds):
        for run in runs.values():
            start = time.perf_counter()
            run()
            gemm_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.encode(points, out=out)
        encode_times.append(time.perf_counter() - start)
    return n / min(encode_times), n / min(gemm_times)


def stage_breakdown(model: ge.LocationEncoder, points: np.ndarray, repeats: int) -> list[tuple[str, float]]:
    """Seconds per stage of encode's chunked CPU path for ``len(points)`` points.

    Runs on the preallocated buffers ``encode`` uses. Each layer is timed cumulatively (product;
    product + bias; + activation; + LayerNorm) so that every run starts from the matrix product's
    fresh output, as in ``encode`` (re-applying an activation to its own output would drift into
    denormals); a stage's cost is the difference of two best times (interleaved rounds), floored at 0.
    """
    from geoloc_embed.encoders.inference import ChunkedInference
    from geoloc_embed.encoders.model import _CPU_CHUNK_ROWS as chunk

    plan = ChunkedInference(model, chunk)
    x = torch.as_tensor(points, dtype=torch.float32)
    n = len(x)
    runs: list[tuple[str, object]] = []
    with torch.inference_mode():
        plan(x[:chunk], torch.empty(chunk, model.embed_dim))  # fills every buffer with realistic values
        runs.append(("position encoding (float64 phases, sin, cast)", lambda lo: plan.position_encoder.forward_into(
            x[lo:lo + chunk], plan.features, plan.workspace)))
        inputs = plan.features
        for index, step in enumerate(plan.steps + [plan.last]):
            target = step.buffer if step is not plan.last else torch.empty(chunk, step.weight_t.shape[1])
            norm = step.layernorm

            def run(lo: int, a=inputs, s=step, t=target, norm=norm, depth: int = 0) -> None:
                if depth == 0:
                    torch.mm(a, s.weight_t, out=t)
                    return
                torch.addmm(s.bias, a, s.weight_t, out=t)
                if depth >= 2:
                    s.activation(t)
                if depth >= 3:
                    torch.ops.aten.native_layer_norm.out(t, list(norm.normalized_shape), norm.weight, norm.bias,
                                                         norm.eps, out0=t, out1=s.stats[0], out2=s.stats[1])

            parts = ["matrix product", "bias", "activation"] + (["LayerNorm"] if norm is not None else [])
            for depth, part in enumerate(parts):
                runs.append((f"layer {index}: {part}", lambda lo, run=run, depth=depth: run(lo, depth=depth)))
            inputs = target
        best = {name: float("inf") for name, _ in runs}
        for round_index in range(repeats + 1):  # interleaved rounds, the first a warm-up; best of each
            for name, stage in runs:
                start = time.perf_counter()
                for lo in range(0, n - chunk + 1, chunk):
                    stage(lo)
                if round_index:
                    best[name] = min(best[name], time.perf_counter() - start)
    stages, previous = [], 0.0
    for name, seconds in best.items():
        cumulative = name.startswith("layer") and not name.endswith("matrix product")
        stages.append((name, max(seconds - previous, 0.0) if cumulative else seconds))
        previous = seconds
    return stages


def family_config(family: str) -> ge.LocationEncoderConfig:
    """``family`` with its own paper's defaults + CSP's FFN (the same network for every row); GeoCLIP's
    Equal-Earth RFF with its own MLP branches (``MLPConfig``'s defaults are GeoCLIP's), as released."""
    network = "mlp" if family == "equal-earth-rff" else "csp-ffn"
    return ge.LocationEncoderConfig(position_encoder=family, network=network)


def family_table(points: np.ndarray, repeats: int) -> None:
    """Every registered family's encode rate and its share of the two-matmul ceiling."""
    n = len(points)
    ceiling = gemm_ceiling(n, 128, 512, 256, repeats)
    print(f"two-matmul ceiling (128 -> 512 -> 256): {ceiling:,.0f} points/s\n")
    print("| position encoder | features | points/s | share of ceiling |")
    print("|---|---:|---:|---:|")
    grid_rate = None
    for family in ge.list_position_encoders():
        config = family_config(family)
        model = ge.LocationEncoder(config).eval()
        rate = n / best_time(lambda: model.encode(points, batch_size=n), repeats)
        note = "" if config.network.name == "csp-ffn" else f" ({config.network.name} network)"
        print(f"| {family}{note} | {model.position_encoder.out_dim} | {rate:,.0f} | {rate / ceiling:.2f} |")
        if family == "grid":
            grid_rate = rate
    # shared VMs drift: measure the ceiling again after the encoders and keep the better figure
    ceiling = max(ceiling, gemm_ceiling(n, 128, 512, 256, repeats))
    if grid_rate is not None:
        print(f"\ngrid encoder: {grid_rate:,.0f} points/s = {grid_rate / ceiling:.2f} of the two-matmul ceiling "
              f"(target >= 0.75)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--grid-only", action="store_true",
                        help="skip the table of families: grid vs ceiling (interleaved) and the breakdown only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    points = sample_uniform_sphere(args.points, generator=torch.Generator().manual_seed(0)).numpy()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.points:,} points, float32, CPU")
    if not args.grid_only:
        family_table(points, args.repeats)
    grid = ge.create_model("csp-grid").eval()
    rate, ceiling = interleaved_share(grid, points, args.repeats)
    print(f"grid encoder, interleaved with the ceiling ({args.repeats} rounds, best of each): "
          f"{rate:,.0f} / {ceiling:,.0f} points/s = {rate / ceiling:.2f}")
    print(f"\nwhere encode's time goes (grid model, {args.points:,} points, stages of ChunkedInference):\n")
    print("| stage | ms | share |")
    print("|---|---:|---:|")
    breakdown = stage_breakdown(grid, points, args.repeats)
    total = sum(seconds for _, seconds in breakdown)
    for name, seconds in breakdown:
        print(f"| {name} | {seconds * 1e3:.1f} | {seconds / total:.0%} |")
    products = sum(seconds for name, seconds in breakdown if "matrix product" in name)
    print(f"| sum of stages | {total * 1e3:.1f} | matrix products {products / total:.0%} |")


if __name__ == "__main__":
    np.set_printoptions(suppress=True)
    main()
