"""GPU check: CPU vs CUDA agreement for every family, and ``encode`` throughput / peak memory on the GPU.

For every registered position encoder family (its own paper's defaults + CSP's FFN, seeded):

1. agreement: the position features and the embedding of the same model on CPU and on CUDA
   (float32, eval mode) on points that include both poles and lon = +-180; pass when both max abs
   differences are <= 1e-4 (the float64 phase path runs on the GPU too);
2. throughput of ``encode`` (numpy in, numpy out, D2H copy included) and of the forward alone
   (device tensors, ``encode``'s 1M-row chunks) in float32 and bf16 autocast, with peak GPU memory
   (``torch.cuda.max_memory_allocated``) of the encode runs;
3. for the families in ``--compile-families`` the same with ``torch.compile`` applied to the model's
   forward (a compile failure is reported in the table, not raised), plus compiled-vs-eager max diff.

Prints a Markdown table and writes it to ``$OUT/gpu_check.md`` (and the raw rows to
``$OUT/gpu_check.json``) when ``OUT`` is set. Without a CUDA device it prints "no CUDA device" and
exits 0. A time budget (``--budget-s``, default 240 s) skips what is left once exceeded, so the run
stays under 5 minutes on one GPU.

Usage:
    python benchmarks/gpu_check.py [--points 2097152] [--budget-s 240] [--compile-families grid,...]
"""

import argparse
import json
import os
import sys
import time
import traceback

import torch

_DEFAULT_COMPILE = "grid,spherical-harmonics,equal-earth-rff"
_AGREE_TOL = 1e-4
#: "cuda"; "cpu" only for --dry-run-cpu, which exercises this script's code paths without a GPU.
DEVICE = "cuda"


def build(family: str):
    """``family`` with its own paper's defaults + CSP's FFN; GeoCLIP's encoder with its MLP branches."""
    import geoloc_embed as ge

    torch.manual_seed(0)
    network = "mlp" if family == "equal-earth-rff" else "csp-ffn"  # MLPConfig's defaults are GeoCLIP's
    return ge.LocationEncoder(ge.LocationEncoderConfig(position_encoder=family, network=network)).eval()


def test_points(n: int = 4096) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    u = torch.rand(n, 2, dtype=torch.float64, generator=generator)
    points = torch.stack((360.0 * u[:, 0] - 180.0, torch.rad2deg(torch.asin(2.0 * u[:, 1] - 1.0))), dim=-1)
    points[:6] = torch.tensor([[-180.0, -90.0], [180.0, 90.0], [-180.0, 0.0], [180.0, 0.0], [0.0, 90.0],
                               [0.0, -90.0]], dtype=torch.float64)
    return points.float()


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def agreement(model, points: torch.Tensor) -> tuple[float, float]:
    """(max |features cpu - cuda|, max |embedding cpu - cuda|) for a model on CPU; moves it to the device."""
    with torch.inference_mode():
        feats_cpu = model.position_encoder(points)
        emb_cpu = model(points)
        cuda_model = model.to(DEVICE)
        x = points.to(DEVICE)
        feats_gpu = cuda_model.position_encoder(x).cpu()
        emb_gpu = cuda_model(x).cpu()
    return float((feats_cpu - feats_gpu).abs().max()), float((emb_cpu - emb_gpu).abs().max())


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(model, points_np, device_points: torch.Tensor, autocast: bool, repeats: int) -> dict:
    """encode points/s, forward-only points/s, peak GPU memory of encode (model already on CUDA)."""
    dtype = torch.bfloat16 if autocast else None
    chunk = 1 << 20
    batch = min(len(points_np), 1 << 21)

    def run_encode():
        model.encode(points_np, order="lonlat", batch_size=batch, dtype=dtype)

    def run_forward():
        with torch.inference_mode(), torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=autocast):
            for lo in range(0, device_points.shape[0], chunk):
                model.forward(device_points[lo:lo + chunk])

    run_forward()  # warm-up (and compilation)
    run_encode()
    sync()
    cuda = DEVICE == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated() if cuda else 0
    encode_s = best_of(run_encode, repeats)
    peak = torch.cuda.max_memory_allocated() - base if cuda else None
    forward_s = best_of(run_forward, repeats)
    n = len(points_np)
    return {"encode_pts_s": n / encode_s, "forward_pts_s": device_points.shape[0] / forward_s, "peak_bytes": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1 << 21, help="points per throughput run (multiple of 2**20)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=240.0)
    parser.add_argument("--compile-families", default=_DEFAULT_COMPILE,
                        help="comma-separated families also timed under torch.compile ('' for none, 'all')")
    parser.add_argument("--families", default="", help="comma-separated subset of families (default: all)")
    parser.add_argument("--dry-run-cpu", action="store_true",
                        help="run every code path on the CPU with few points (checks the script, not the GPU)")
    args = parser.parse_args()

    global DEVICE
    if args.dry_run_cpu:
        DEVICE = "cpu"
    elif not torch.cuda.is_available():
        print("no CUDA device: torch.cuda.is_available() is False "
              f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); nothing to check, exiting 0")
        return 0

    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if repo_root not in sys.path:
        sys.path.insert(0, repo_root)
    import numpy as np

    import geoloc_embed as ge

    started = time.perf_counter()
    families = [f for f in args.families.split(",") if f] or ge.list_position_encoders()
    compile_set = set(ge.list_position_encoders()) if args.compile_families == "all" else \
        {f for f in args.compile_families.split(",") if f}
    n = max(1 << 20, (args.points // (1 << 20)) * (1 << 20)) if DEVICE == "cuda" else min(args.points, 1 << 14)
    rng = np.random.default_rng(0)
    points_np = np.stack((rng.uniform(-180.0, 180.0, n), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))), axis=1)
    device_points = torch.as_tensor(points_np, dtype=torch.float32, device=DEVICE)
    probe = test_points()
    if DEVICE == "cuda":
        props = torch.cuda.get_device_properties(0)
        device_name = f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    else:
        device_name = "DRY RUN ON CPU (no GPU figures)"
    header = (f"{device_name}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
              f"geoloc_embed {ge.__version__}; {n:,} points per run, best of {args.repeats}; "
              f"TF32 matmul allowed: {torch.backends.cuda.matmul.allow_tf32}")
    print(header, flush=True)

    rows = []
    failures = 0
    for family in families:
        row = {"family": family}
        rows.append(row)
        if time.perf_counter() - started > args.budget_s:
            row["note"] = "skipped (time budget)"
            continue
        try:
            model = build(family)
            row["features"] = model.position_encoder.out_dim
            feat_diff, emb_diff = agreement(model, probe)
            row["feat_diff"], row["emb_diff"] = feat_diff, emb_diff
            row["agree"] = feat_diff <= _AGREE_TOL and emb_diff <= _AGREE_TOL
            failures += not row["agree"]
            for label, autocast in (("fp32", False), ("bf16", True)):
                row[label] = measure(model, points_np, device_points, autocast, args.repeats)
            # Compilation can take a minute: start one only while a quarter of the budget is left.
            if family in compile_set and time.perf_counter() - started <= 0.75 * args.budget_s:
                compiled = build(family).to(DEVICE)
                compiled.forward = torch.compile(compiled.forward)
                try:
                    t0 = time.perf_counter()
                    with torch.inference_mode():
                        y_compiled = compiled.forward(device_points[:1 << 20])
                        y_eager = model.forward(device_points[:1 << 20])
                    sync()
                    row["compile_s"] = time.perf_counter() - t0
                    row["compile_diff"] = float((y_compiled.float() - y_eager.float()).abs().max())
                    for label, autocast in (("fp32+compile", False), ("bf16+compile", True)):
                        row[label] = measure(compiled, points_np, device_points, autocast, args.repeats)
                except Exception as exc:  # noqa: BLE001 - report a compile failure, keep going
                    row["compile_error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
            del model
        except Exception as exc:  # noqa: BLE001 - report the family, check the others
            failures += 1
            row["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
            traceback.print_exc()
        finally:
            if DEVICE == "cuda":
                torch.cuda.empty_cache()
        print(f"{family}: done at {time.perf_counter() - started:.0f} s", flush=True)

    table = render(rows, header, time.perf_counter() - started)
    print(table)
    out_dir = os.environ.get("OUT")
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "gpu_check.md"), "w") as handle:
            handle.write(table + "\n")
        with open(os.path.join(out_dir, "gpu_check.json"), "w") as handle:
            json.dump({"header": header, "rows": rows}, handle, indent=1)
    return 1 if failures else 0


def render(rows: list, header: str, elapsed: float) -> str:
    def rate(row, key, field):
        value = row.get(key, {}).get(field)
        return "" if value is None else f"{value / 1e6:,.2f}M"

    def peak(row, key):
        value = row.get(key, {}).get("peak_bytes")
        return "" if value is None else f"{value / 2**30:,.2f}"

    lines = [f"# GPU check\n\n{header}; total {elapsed:.0f} s\n",
             ("Agreement: max |CPU - CUDA| of the position features / embedding (pass <= 1e-4). Rates in points/s: "
              "encode = numpy in/out incl. D2H copy; fwd = forward on device tensors. Peak = "
              "max_memory_allocated during encode, GiB.\n"),
             ("| family | feats | features diff | embedding diff | ok | fp32 encode | fp32 fwd | fp32 peak "
              "| bf16 encode | bf16 fwd | bf16 peak | compile s | compiled diff | fp32+compile fwd "
              "| bf16+compile fwd | note |"),
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        ok = "" if "agree" not in row else ("yes" if row["agree"] else "**NO**")
        note = row.get("error") or row.get("note", "")
        if row.get("compile_error"):
            note = f"compile failed: {row['compile_error']}"
        cells = [
            row["family"], str(row.get("features", "")),
            f"{row['feat_diff']:.2e}" if "feat_diff" in row else "",
            f"{row['emb_diff']:.2e}" if "emb_diff" in row else "",
            ok,
            rate(row, "fp32", "encode_pts_s"), rate(row, "fp32", "forward_pts_s"), peak(row, "fp32"),
            rate(row, "bf16", "encode_pts_s"), rate(row, "bf16", "forward_pts_s"), peak(row, "bf16"),
            f"{row['compile_s']:.1f}" if "compile_s" in row else "",
            f"{row['compile_diff']:.2e}" if "compile_diff" in row else "",
            rate(row, "fp32+compile", "forward_pts_s"), rate(row, "bf16+compile", "forward_pts_s"),
            note.replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
