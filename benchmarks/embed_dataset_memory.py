"""Peak memory of ``geoloc-embed embed`` on Parquet datasets of growing size: it must not grow with the size.

For each size (``--sizes``, in rows), a dataset of files of ``--rows-per-file`` rows is embedded by
``geoloc-embed embed DATASET OUT/`` in a fresh subprocess, and its peak resident set size (the child's
``ru_maxrss``) and wall time are printed, with the bytes one read chunk takes for comparison. A
bounded run shows the same peak for every size (the model, torch, one chunk of input and output,
and one Parquet row group in flight), however many rows there are. Also with a single file
containing every row (``--single-file``): memory is bounded by the row group, not the file.

Usage:
    python benchmarks/embed_dataset_memory.py [--sizes 250000 1000000 4000000] [--rows-per-file 250000]
                                              [--chunk-rows 262144] [--embed-dim 16] [--single-file]

The model is small and untrained (``--embed-dim``) so that the output stays small on disk; the
memory bound does not depend on it.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_dataset(directory: Path, rows: int, rows_per_file: int, row_group: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    directory.mkdir(parents=True)
    for k, start in enumerate(range(0, rows, rows_per_file)):
        n = min(rows_per_file, rows - start)
        table = pa.table({"id": np.arange(start, start + n), "lon": rng.uniform(-180, 180, n),
                          "lat": rng.uniform(-90, 90, n)})
        pq.write_table(table, directory / f"part-{k:05d}.parquet", row_group_size=row_group)


def peak_rss_of(args: list) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one ``geoloc-embed`` subprocess (its own rusage, from ``os.wait4``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "geoloc_embed.cli", *args], env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"geoloc-embed failed with status {process.returncode}")
    return usage.ru_maxrss / 1024.0, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000, 4_000_000])
    parser.add_argument("--rows-per-file", type=int, default=250_000)
    parser.add_argument("--chunk-rows", type=int, default=262_144)
    parser.add_argument("--embed-dim", type=int, default=16)
    parser.add_argument("--single-file", action="store_true", help="also one file holding every row")
    args = parser.parse_args()

    import torch

    import geoloc_embed as ge

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch.manual_seed(0)
        ge.create_model("csp-grid", hidden_dim=64, embed_dim=args.embed_dim).save_pretrained(root / "model")
        chunk_mib = args.chunk_rows * (3 * 8 + args.embed_dim * 4) / 2**20
        print(f"model csp-grid hidden 64, embed_dim {args.embed_dim}; --chunk-rows {args.chunk_rows:,} "
              f"(one chunk of input + output: {chunk_mib:.0f} MiB)\n")
        print("| rows | files | peak RSS (MiB) | seconds | points/s |")
        print("|---:|---:|---:|---:|---:|")
        cases = [(rows, args.rows_per_file) for rows in args.sizes]
        if args.single_file:
            cases.append((max(args.sizes), max(args.sizes)))
        for rows, per_file in cases:
            data, out = root / f"in-{rows}-{per_file}", root / f"out-{rows}-{per_file}"
            write_dataset(data, rows, per_file, row_group=min(per_file, 131_072))
            peak, seconds = peak_rss_of(["embed", "-m", str(root / "model"), "-i", str(data), "-o", str(out),
                                         "--chunk-rows", str(args.chunk_rows), "--no-progress"])
            files = -(-rows // per_file)
            print(f"| {rows:,} | {files} | {peak:,.0f} | {seconds:.1f} | {rows / seconds:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
