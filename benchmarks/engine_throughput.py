"""Throughput of the Dask adapter on a local cluster: 1 and 2 worker processes, points/s.

A multi-file Parquet dataset of ``--points`` uniform points is embedded with
``geoloc_embed.integrations.dask.embed_partitions`` and the bundled default model (or ``--model``)
on a ``LocalCluster`` (loopback only, no dashboard, 1 thread per worker process). The model is
loaded on every worker before the clock starts (``load_encoder``, once per process), and each
partition's embeddings are reduced on the worker (row count and sum), so the figure is reading +
embedding, not shipping the (N, D) result to the client. For reference, the same points through
``encode`` in this process, with 1 torch thread (a worker's share) and with torch's default.

Usage:
    python benchmarks/engine_throughput.py [--points 1048576] [--files 8] [--workers 1 2] [--rounds 2]
                                           [--model NAME|PATH]

On a shared 2-core machine the 2-worker figure cannot reach twice the 1-worker one while anything
else runs; compare the figures of one run only.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def make_dataset(directory: Path, n: int, files: int) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    lon = rng.uniform(-180.0, 180.0, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    bounds = np.linspace(0, n, files + 1).astype(int)
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        pq.write_table(pa.table({"id": np.arange(lo, hi), "lon": lon[lo:hi], "lat": lat[lo:hi]}),
                       directory / f"part-{k:03d}.parquet")
    return np.stack([lon, lat], axis=1)


def _reduce(frame):  # runs on the workers: keep the embeddings there
    import pandas as pd

    from geoloc_embed.integrations import embeddings_to_numpy

    embedding = embeddings_to_numpy(frame["embedding"])
    return pd.DataFrame({"rows": [len(frame)], "sum": [float(embedding.sum(dtype=np.float64))]})


def run_cluster(data: Path, model: str, workers: int, rounds: int) -> tuple[float, int, float]:
    """(best seconds, rows, checksum) for ``workers`` worker processes."""
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    from geoloc_embed.integrations.dask import embed_partitions
    from geoloc_embed.integrations.models import load_encoder

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      scheduler_kwargs={"dashboard": False}, worker_dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(lambda: load_encoder(model).embed_dim)  # every worker loads the model once, untimed
        ddf = dd.read_parquet(str(data))
        reduced = embed_partitions(ddf, model=model).map_partitions(
            _reduce, meta={"rows": "int64", "sum": "float64"})
        best, rows, checksum = float("inf"), 0, 0.0
        for _ in range(rounds):
            start = time.perf_counter()
            future = client.compute(reduced)
            result = future.result()
            best = min(best, time.perf_counter() - start)
            rows, checksum = int(result["rows"].sum()), float(result["sum"].sum())
            future.release()  # else the next round finds the result still in the workers' memory
            del future
            deadline = time.monotonic() + 30.0
            while any(client.has_what().values()) and time.monotonic() < deadline:
                time.sleep(0.05)
    return best, rows, checksum


def main() -> None:
    import geoloc_embed as ge

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1 << 20)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default=ge.DEFAULT_MODEL)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "points"
        data.mkdir()
        points = make_dataset(data, args.points, args.files)
        model = ge.LocationEncoder.from_pretrained(args.model)
        print(f"{args.points:,} points in {args.files} Parquet files, model {args.model} (embed_dim "
              f"{model.embed_dim}), torch {torch.__version__}\n")
        print("| setting | seconds | points/s |")
        print("|---|---:|---:|")
        threads = torch.get_num_threads()
        for count in (1, threads):
            torch.set_num_threads(count)
            model.encode(points[:65536])
            start = time.perf_counter()
            expected = model.encode(points, out_dtype=np.float32)
            seconds = time.perf_counter() - start
            print(f"| encode in this process, {count} torch thread{'s' if count > 1 else ''} | {seconds:.2f} | "
                  f"{args.points / seconds:,.0f} |")
        torch.set_num_threads(threads)
        checksum_expected = float(expected.sum(dtype=np.float64))
        del expected
        for workers in args.workers:
            seconds, rows, checksum = run_cluster(data, args.model, workers, args.rounds)
            assert rows == args.points, (rows, args.points)
            assert abs(checksum - checksum_expected) <= 1e-6 * max(1.0, abs(checksum_expected)), \
                (checksum, checksum_expected)
            print(f"| Dask LocalCluster, {workers} worker process{'es' if workers > 1 else ''} x 1 thread | "
                  f"{seconds:.2f} | {args.points / seconds:,.0f} |")


if __name__ == "__main__":
    main()
