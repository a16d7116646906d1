"""Throughput of ``LocationEncoder.encode`` for every position encoder with the CSP FFN.

For each registered family: points/s of ``encode`` at batch 65,536 on this machine's CPU
(float32, eval mode), with the CSP network (hidden 512, embedding 256, 1 hidden layer). In the
same run it measures the pure two-matmul ceiling of the grid model's FFN shape
(65,536 x 128 -> 512 -> 256, best of whole-batch and cache-sized chunks), and reports the grid
encoder's share of that ceiling.

Usage:
    python benchmarks/encode_throughput.py [--points 65536] [--repeats 5] [--threads N]
"""

import argparse
import time

import numpy as np
import torch

import geoloc_embed as ge
from geoloc_embed.coords import sample_uniform_sphere
from representative_configs import representative_config

def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_ceiling(n: int, in_dim: int, hidden: int, out: int, repeats: int) -> float:
    """Points/s of the two matrix products alone (no bias, activation or LayerNorm)."""
    torch.manual_seed(0)
    w1, w2 = torch.randn(in_dim, hidden), torch.randn(hidden, out)
    x = torch.randn(n, in_dim)
    h_full, y_full = torch.empty(n, hidden), torch.empty(n, out)

    def whole() -> None:
        torch.mm(x, w1, out=h_full)
        torch.mm(h_full, w2, out=y_full)

    chunk = 2048
    h_chunk = torch.empty(chunk, hidden)

    def chunked() -> None:
        for lo in range(0, n, chunk):
            torch.mm(x[lo:lo + chunk], w1, out=h_chunk)
            torch.mm(h_chunk, w2, out=y_full[lo:lo + chunk])

    return n / min(best_time(whole, repeats), best_time(chunked, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    points = sample_uniform_sphere(args.points, generator=torch.Generator().manual_seed(0)).numpy()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.points:,} points, float32, CPU")
    ceiling = gemm_ceiling(args.points, 128, 512, 256, args.repeats)
    print(f"two-matmul ceiling (128 -> 512 -> 256): {ceiling:,.0f} points/s\n")
    print(f"| position encoder | features | points/s | share of ceiling |")
    print(f"|---|---:|---:|---:|")
    grid_rate = None
    for family in ge.list_position_encoders():
        config = representative_config(family)
        model = ge.LocationEncoder(config).eval()
        rate = args.points / best_time(lambda: model.encode(points, batch_size=args.points), args.repeats)
        note = "" if config.network == "csp-ffn" else f" ({config.network} network)"
        print(f"| {family}{note} | {model.position_encoder.out_dim} | {rate:,.0f} | {rate / ceiling:.2f} |")
        if family == "grid":
            grid_rate = rate
    # shared VMs drift: measure the ceiling again after the encoders and keep the better figure
    ceiling = max(ceiling, gemm_ceiling(args.points, 128, 512, 256, args.repeats))
    if grid_rate is not None:
        print(f"\ngrid encoder: {grid_rate:,.0f} points/s = {grid_rate / ceiling:.2f} of the two-matmul ceiling "
              f"(target >= 0.75)")


if __name__ == "__main__":
    np.set_printoptions(suppress=True)
    main()
