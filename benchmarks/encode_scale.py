"""``LocationEncoder.encode`` at scale: points/s and peak memory growth, into a memmap and in memory.

Model: the grid CSP model (architecture ``csp-grid``: grid, 32 scales, CSP FFN 128 -> 512
-> 256, float32, CPU). Input: an (N, 2) float64 numpy array of [lon, lat] degrees (what a DataFrame
gives). Each case runs in a fresh subprocess, so that peaks do not mix:

* ``memmap``: ``encode(points, out=np.memmap(...))`` into a file in ``--dir`` (default: a temp dir);
* ``memory``: ``encode(points)`` returning a new (N, 256) float32 array.

Memory is measured two ways, both relative to the state just before ``encode`` (model built, points
in memory, one small warm-up encode done):

* ``anon peak growth``: peak of ``RssAnon`` (/proc/self/status), sampled every 2 ms in a thread.
  Anonymous memory is what encode allocates (tensors, copies, the in-memory output); resident pages
  of a memmap are file-backed and not counted. For ``memory`` the output array (N x 256 x 4 bytes)
  is subtracted, giving the growth beyond the output.
* ``VmHWM growth``: the kernel's high-water mark of the whole RSS (reset through
  /proc/self/clear_refs before encode). It includes the memmap's resident file pages, which the
  kernel writes back and drops under pressure, so it is an upper bound for the memmap case.

Usage:
    python benchmarks/encode_scale.py                      # 1M memmap, 1M memory, 10M memmap
    python benchmarks/encode_scale.py --cases 1000000:memmap --batch-size 65536
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

_FIELDS = ("RssAnon", "VmHWM", "VmRSS")


def read_status() -> dict:
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in _FIELDS:
                values[key] = int(rest.split()[0]) * 1024  # kB -> bytes
    return values


class AnonPeakSampler(threading.Thread):
    """Samples RssAnon every ``interval`` seconds until stopped; ``peak`` holds the maximum seen."""

    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = read_status()["RssAnon"]
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, read_status()["RssAnon"])
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, read_status()["RssAnon"])
        return self.peak


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def child(n: int, mode: str, batch_size: int, directory: str, threads: int) -> dict:
    import gc

    import numpy as np
    import torch

    import geoloc_embed as ge

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ge.create_model("csp-grid").eval()
    rng = np.random.default_rng(0)
    points = np.empty((n, 2), dtype=np.float64)
    points[:, 0] = rng.uniform(-180.0, 180.0, n)
    points[:, 1] = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    model.encode(points[:10_000], batch_size=batch_size)  # warm-up: thread pools, allocator, kernels
    out_bytes = n * model.embed_dim * 4
    path = None
    out = None
    if mode == "memmap":
        path = os.path.join(directory, f"encode_scale_{os.getpid()}.f32")
        out = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, model.embed_dim))
    gc.collect()

    hwm_ok = reset_hwm()
    before = read_status()
    sampler = AnonPeakSampler()
    sampler.start()
    start = time.perf_counter()
    result = model.encode(points, order="lonlat", batch_size=batch_size, out=out)
    seconds = time.perf_counter() - start
    anon_peak = sampler.stop()
    after = read_status()
    if mode == "memmap":
        flush_start = time.perf_counter()
        result.flush()
        flush_seconds = time.perf_counter() - flush_start
    else:
        flush_seconds = 0.0
    checksum = float(np.asarray(result[:: max(1, n // 1000)], dtype=np.float64).sum())
    del result, out
    if path is not None:
        os.unlink(path)
    anon_growth = anon_peak - before["RssAnon"]
    return {
        "points": n, "mode": mode, "batch_size": batch_size, "threads": torch.get_num_threads(),
        "seconds": seconds, "points_per_s": n / seconds, "flush_seconds": flush_seconds,
        "out_bytes": out_bytes, "input_bytes": points.nbytes,
        "anon_peak_growth": anon_growth,
        "anon_growth_beyond_output": anon_growth - (out_bytes if mode == "memory" else 0),
        "hwm_growth": (after["VmHWM"] - before["VmRSS"]) if hwm_ok else None,
        "checksum": checksum,
    }


def run_case(n: int, mode: str, batch_size: int, directory: str, threads: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", f"{n}:{mode}", "--batch-size", str(batch_size),
           "--dir", directory, "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"case {n}:{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mb(value) -> str:
    return "n/a" if value is None else f"{value / 1e6:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["1000000:memmap", "1000000:memory", "10000000:memmap"],
                        help="N:mode pairs, mode in {memmap, memory}")
    parser.add_argument("--batch-size", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=1, help="runs per case (best time, largest peak reported)")
    parser.add_argument("--dir", default=None, help="folder for the memmap files (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads in the child (0: default)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        n, mode = args.child.split(":")
        print(json.dumps(child(int(n), mode, args.batch_size, args.dir, args.threads)))
        return

    import torch

    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        rows = []
        for case in args.cases:
            n, mode = case.split(":")
            runs = [run_case(int(n), mode, args.batch_size, directory, args.threads) for _ in range(args.repeats)]
            best = min(runs, key=lambda r: r["seconds"])
            best["anon_peak_growth"] = max(r["anon_peak_growth"] for r in runs)
            best["anon_growth_beyond_output"] = max(r["anon_growth_beyond_output"] for r in runs)
            rows.append(best)
            print(f"done {case}: {best['points_per_s']:,.0f} points/s", file=sys.stderr)

    print(f"torch {torch.__version__}, grid CSP model (256-d), float32 CPU, {rows[0]['threads']} threads, "
          f"batch_size {args.batch_size:,}, input float64 (N, 2) numpy; best of {args.repeats}\n")
    print("| points | output | points/s | encode s | output MB | input MB | anon peak growth MB "
          "| growth beyond output MB | VmHWM growth MB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['points']:,} | {r['mode']} | {r['points_per_s']:,.0f} | {r['seconds']:.1f} | {mb(r['out_bytes'])} "
              f"| {mb(r['input_bytes'])} | {mb(r['anon_peak_growth'])} | {mb(r['anon_growth_beyond_output'])} "
              f"| {mb(r['hwm_growth'])} |")
    print("\nanon = RssAnon sampled every 2 ms (memmap pages are file-backed and not included); "
          "VmHWM includes resident memmap pages. Target: growth beyond output well under 1,500 MB at 10M.")


if __name__ == "__main__":
    main()
