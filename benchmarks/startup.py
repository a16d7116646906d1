"""Start-up cost: ``import torch`` vs ``import torch; import geoloc_embed``, and ``from_pretrained(dir)``.

Every measurement runs in a fresh interpreter (repeated, median reported):

* ``import torch`` alone, and ``import geoloc_embed`` right after it (in-process perf_counter, so
  interpreter start-up is excluded; the whole process wall time is reported as well);
* ``import geoloc_embed`` followed by ``from huggingface_hub import PyTorchModelHubMixin``: what basing
  ``LocationEncoder`` on huggingface_hub's mixin instead of the package's own ``HubMixin`` would add to
  every ``import geoloc_embed`` (issue 14 item 7);
* ``LocationEncoder.from_pretrained(dir)`` of a small saved model directory (created here with
  ``save_pretrained`` in a temp dir), and the first ``encode`` of one point after it;
* the same for the packaged default model, ``from_pretrained(geoloc_embed.DEFAULT_MODEL)``;
* ``python -X importtime -c "import torch; import geoloc_embed"``: the modules imported because of
  geoloc_embed (everything after torch), self time summed per top-level package, and the largest
  cumulative entries.

Usage:
    python -m benchmarks.startup [--repeats 5] [--top 15]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

_CHILD_IMPORT = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
if {with_ge}:
    import geoloc_embed
t2 = time.perf_counter()
if {with_hub}:
    from huggingface_hub import PyTorchModelHubMixin
t3 = time.perf_counter()
print(json.dumps({{"torch": t1 - t0, "geoloc_embed": t2 - t1, "hub_mixin": t3 - t2,
                  "huggingface_hub": "huggingface_hub" in sys.modules, "pyproj": "pyproj" in sys.modules,
                  "safetensors": "safetensors" in sys.modules, "pandas": "pandas" in sys.modules,
                  "shapely": "shapely" in sys.modules, "tqdm": "tqdm" in sys.modules,
                  "requests": "requests" in sys.modules, "httpx": "httpx" in sys.modules}}))
"""

_CHILD_LOAD = r"""
import json, sys, time
import torch
import geoloc_embed as ge
t0 = time.perf_counter()
model = ge.LocationEncoder.from_pretrained({path!r})
t1 = time.perf_counter()
model.encode([[2.35, 48.86]], order="lonlat")
t2 = time.perf_counter()
print(json.dumps({{"from_pretrained": t1 - t0, "first_encode": t2 - t1,
                  "huggingface_hub": "huggingface_hub" in sys.modules}}))
"""


def run_child(code: str, env: dict) -> tuple[dict, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def median(values) -> float:
    return statistics.median(values)


def parse_importtime(stderr: str, after: str = "torch") -> list[tuple[int, int, int, str]]:
    """(self_us, cumulative_us, depth, module) for every line that follows the top-level ``after`` entry."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        first, cumulative, name = line.split("|", 2)
        self_us = first.split(":", 1)[1]
        name = name[1:]  # one separator space, then two spaces per nesting level
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((int(self_us), int(cumulative), depth, name.strip()))
    for index, row in enumerate(rows):
        if row[3] == after and row[2] == 0:
            return rows[index + 1:]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo_root, env.get("PYTHONPATH")]))

    with tempfile.TemporaryDirectory() as tmp:
        env["GEOLOC_EMBED_CACHE"] = os.path.join(tmp, "cache")
        env.setdefault("HF_HOME", os.path.join(tmp, "hf"))
        model_dir = os.path.join(tmp, "small-model")
        save = ("import geoloc_embed as ge; ge.create_model('csp-grid', hidden_dim=64, embed_dim=32)"
                f".save_pretrained({model_dir!r})")
        subprocess.run([sys.executable, "-c", save], check=True, env=env)
        default = subprocess.run([sys.executable, "-c", "import geoloc_embed as ge; print(ge.DEFAULT_MODEL)"],
                                 check=True, env=env, capture_output=True, text=True).stdout.strip()

        torch_only, with_ge, with_hub, loads, packaged = [], [], [], [], []
        for _ in range(args.repeats):  # interleaved, so background load hits every case alike
            torch_only.append(run_child(_CHILD_IMPORT.format(with_ge=False, with_hub=False), env))
            with_ge.append(run_child(_CHILD_IMPORT.format(with_ge=True, with_hub=False), env))
            with_hub.append(run_child(_CHILD_IMPORT.format(with_ge=True, with_hub=True), env))
            loads.append(run_child(_CHILD_LOAD.format(path=model_dir), env))
            packaged.append(run_child(_CHILD_LOAD.format(path=default), env))

        importtime_runs = []
        for _ in range(args.repeats):
            proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import torch; import geoloc_embed"],
                                  capture_output=True, text=True, env=env, check=True)
            importtime_runs.append(parse_importtime(proc.stderr))

    ms = 1000.0
    print(f"Python {sys.version.split()[0]}, median of {args.repeats} fresh interpreters\n")
    print("| measurement | median ms | min ms |")
    print("|---|---:|---:|")
    rows = [
        ("import torch (in process)", [r[0]["torch"] for r in torch_only]),
        ("import torch (in process, run with geoloc_embed)", [r[0]["torch"] for r in with_ge]),
        ("import geoloc_embed after torch (in process)", [r[0]["geoloc_embed"] for r in with_ge]),
        ("process wall: python -c 'import torch'", [r[1] for r in torch_only]),
        ("process wall: python -c 'import torch; import geoloc_embed'", [r[1] for r in with_ge]),
        ("import geoloc_embed after torch, run before huggingface_hub", [r[0]["geoloc_embed"] for r in with_hub]),
        ("then `from huggingface_hub import PyTorchModelHubMixin` (in process)", [r[0]["hub_mixin"] for r in with_hub]),
        ("process wall: ... geoloc_embed; from huggingface_hub import PyTorchModelHubMixin",
         [r[1] for r in with_hub]),
        ("LocationEncoder.from_pretrained(dir) (small model)", [r[0]["from_pretrained"] for r in loads]),
        ("first encode() of one point after loading", [r[0]["first_encode"] for r in loads]),
        (f"LocationEncoder.from_pretrained({default!r}) (packaged default)",
         [r[0]["from_pretrained"] for r in packaged]),
        ("first encode() of one point after loading it", [r[0]["first_encode"] for r in packaged]),
    ]
    for label, values in rows:
        print(f"| {label} | {median(values) * ms:,.1f} | {min(values) * ms:,.1f} |")

    hub_extra = median([r[0]["hub_mixin"] for r in with_hub])
    light = median([r[0]["geoloc_embed"] for r in with_ge])
    print(f"\nhuggingface_hub's mixin at import would add {hub_extra * ms:,.1f} ms to `import geoloc_embed` "
          f"({light * ms:,.1f} ms now): {hub_extra / max(light, 1e-9):.1f} times its cost")

    flags = with_ge[0][0]
    loaded = [name for name in ("huggingface_hub", "pyproj", "safetensors", "pandas", "shapely", "tqdm",
                                "requests", "httpx") if flags.get(name)]
    print(f"\nmodules present after `import geoloc_embed`: {', '.join(loaded) or 'none of the optional ones'}")
    hub_imported = any(r[0]["huggingface_hub"] for r in loads + packaged)
    print(f"huggingface_hub imported by loading a local directory or the packaged model: {hub_imported}")

    # Per top-level package: self time summed over the modules imported after torch (median over runs).
    per_package = defaultdict(list)
    for rows_ in importtime_runs:
        totals = defaultdict(int)
        for self_us, _cum, _depth, name in rows_:
            totals[name.split(".")[0]] += self_us
        for package, total in totals.items():
            per_package[package].append(total)
    total_after_torch = median([sum(r[0] for r in rows_) for rows_ in importtime_runs])
    print(f"\n`-X importtime`, modules imported by geoloc_embed after torch: {total_after_torch / 1000:,.1f} ms "
          "self time in total (importtime adds overhead)\n")
    print("| top-level package | self ms (median) | share |")
    print("|---|---:|---:|")
    ranked = sorted(per_package.items(), key=lambda kv: -median(kv[1] + [0] * (args.repeats - len(kv[1]))))
    for package, values in ranked[:args.top]:
        value = median(values + [0] * (args.repeats - len(values)))
        print(f"| {package} | {value / 1000:,.1f} | {value / max(total_after_torch, 1):.0%} |")

    # Largest cumulative entries of the last run (nesting shown by depth).
    last = importtime_runs[-1]
    print("\nlargest cumulative imports (last run):\n")
    print("| module | depth | cumulative ms |")
    print("|---|---:|---:|")
    for _self_us, cumulative, depth, name in sorted(last, key=lambda r: -r[1])[:args.top]:
        print(f"| {name} | {depth} | {cumulative / 1000:,.1f} |")


if __name__ == "__main__":
    main()
