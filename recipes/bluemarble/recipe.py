"""The ``csp-bluemarble`` recipe (the default model before 0.2): Blue Marble patches -> SimCLR CNN
(frozen) -> CSP-MC-BLD grid encoder.

``run_recipe(BLUEMARBLE_RECIPE, out_dir, seed=0)`` regenerates ``weights/csp-bluemarble``;
``python -m recipes.bluemarble`` is the command-line front end and ``recipes/bluemarble.json``
holds the same numbers as JSON.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch

from geoloc_embed.architectures import resolve_model_config
from geoloc_embed.config import LocationEncoderConfig
from recipes.run_output import save_run

__all__ = ["BLUEMARBLE_RECIPE", "QUICK_RECIPE", "model_config", "run_recipe", "load_recipe"]

#: Architecture: CSP's grid encoder as in the released fMoW checkpoint (csp-spec.md section 1.4), the
#: named architecture "csp-grid-gelu": S = 32 scales, r_max = 360 deg, r_min = 0.1 deg (see
#: docs/bluemarble.md for why 0.1), 1 hidden layer of 512, d = 256, GELU, dropout 0.5, LayerNorm.
#: A recipe's "model" is anything ``resolve_model_config`` takes (here an architecture name).
BLUEMARBLE_RECIPE: dict[str, Any] = {
    "model": "csp-grid-gelu",
    "data": {"num_locations": 100_000, "geonames_fraction": 0.5, "geonames_min_population": 5000,
             "geonames_weight_power": 0.5, "geonames_jitter_km": 25.0, "patch_size": 40, "crop": 32},
    "simclr": {"width": 24, "feat_dim": 128, "proj_dim": 64, "batch_size": 256, "steps": 150, "lr": 2e-3,
               "temperature": 0.2},
    "csp": {"epochs": 30, "batch_size": 512, "lr": 1e-3, "temperatures": [1.0, 1.0, 1.0],
            "weights": [1.0, 0.1], "num_negatives": 1, "threads": 1},
}

#: CI smoke-test settings (well under 2 minutes on 2 CPU cores).
QUICK_RECIPE: dict[str, Any] = copy.deepcopy(BLUEMARBLE_RECIPE)
QUICK_RECIPE["data"]["num_locations"] = 4096
QUICK_RECIPE["simclr"].update(steps=10, batch_size=128, width=8)
QUICK_RECIPE["csp"].update(epochs=2, batch_size=256)


def model_config(recipe: dict) -> LocationEncoderConfig:
    """The recipe's location-encoder architecture (its "model": a name, a config dict, ...)."""
    return resolve_model_config(recipe["model"])


def load_recipe(path: Union[str, Path]) -> dict:
    """A recipe JSON file merged over ``BLUEMARBLE_RECIPE`` (section by section)."""
    data = json.loads(Path(path).read_text())
    out = copy.deepcopy(BLUEMARBLE_RECIPE)
    for section, values in data.items():
        if section.startswith("_"):
            continue
        if section not in out:
            raise ValueError(f"unknown recipe section {section!r}; known: {', '.join(out)}")
        if section == "model":  # an architecture (name or config), replaced whole, never merged
            out[section] = values
        else:
            out[section].update(values)
    return out


def run_recipe(recipe: dict, out_dir: Union[str, Path, None], *, seed: int = 0,
               log: Optional[Callable[[str], None]] = print, return_data: bool = False,
               cache_dir: Union[str, Path, None] = None, from_cache: bool = False) -> dict:
    """Run the whole recipe; save the location encoder to ``out_dir`` (if given); return a summary.

    The summary has the timings, the loss history and (``return_data=True``) the encoder, the
    projection, the frozen CNN, the locations and the features.
    """
    from .bluemarble import extract_patches, find_bluemarble, load_bluemarble
    from .csp import pretrain_csp_mc
    from .image_ssl import extract_features, train_simclr
    from .locations import load_geonames_cities, sample_pretrain_locations

    log = log or (lambda _m: None)
    d, sc, cs = recipe["data"], recipe["simclr"], recipe["csp"]
    times: dict[str, float] = {}
    cache_file = Path(cache_dir) / "bluemarble_features.pt" if cache_dir is not None else None
    if from_cache:
        if cache_file is None or not cache_file.is_file():
            raise FileNotFoundError(f"no feature cache at {cache_file}; run once with --cache DIR first")
        blob = torch.load(cache_file, weights_only=True)
        if blob["seed"] != seed or {k: blob["recipe"][k] for k in ("data", "simclr")} != \
                {k: recipe[k] for k in ("data", "simclr")}:
            raise ValueError(f"{cache_file} was made with another seed or data/simclr settings")
        lonlat, feats = blob["lonlat"].numpy(), blob["features"]
        cnn = None
        log(f"loaded frozen features {tuple(feats.shape)} from {cache_file}")
    else:
        t = time.time()
        image = load_bluemarble()
        cities = load_geonames_cities(d["geonames_min_population"])
        lonlat = sample_pretrain_locations(
            d["num_locations"], seed, geonames_fraction=d["geonames_fraction"], cities=cities,
            weight_power=d["geonames_weight_power"], jitter_km=d["geonames_jitter_km"])
        patches = torch.from_numpy(extract_patches(image, lonlat, d["patch_size"]))
        times["data_s"] = round(time.time() - t, 1)
        log(f"data: {len(lonlat)} locations, patches {tuple(patches.shape)} from {find_bluemarble().name} "
            f"({times['data_s']}s)")

        t = time.time()
        cnn = train_simclr(patches, crop=d["crop"], width=sc["width"], feat_dim=sc["feat_dim"],
                           proj_dim=sc["proj_dim"], batch_size=sc["batch_size"], steps=sc["steps"], lr=sc["lr"],
                           temperature=sc["temperature"], seed=seed, log=log)
        times["simclr_s"] = round(time.time() - t, 1)
        t = time.time()
        feats = extract_features(cnn, patches, crop=d["crop"])
        feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)  # standardised frozen features
        times["features_s"] = round(time.time() - t, 1)
        if cache_dir is not None:  # frozen CNN + features, to rerun only the CSP stage
            cache = Path(cache_dir)
            cache.mkdir(parents=True, exist_ok=True)
            torch.save({"cnn": cnn.state_dict(), "features": feats, "lonlat": torch.from_numpy(lonlat),
                        "recipe": recipe, "seed": seed}, cache / "bluemarble_features.pt")
        log(f"features {tuple(feats.shape)} ({times['features_s']}s)")

    t = time.time()
    cfg = model_config(recipe)
    threads = int(cs.get("threads", 0) or 0)
    prev_threads = torch.get_num_threads()
    if threads:  # the CSP matrices are small: 1 thread is faster than 2 on a busy 2-core machine
        torch.set_num_threads(threads)
    try:
        enc, proj, history = pretrain_csp_mc(
            torch.from_numpy(lonlat).float(), feats, cfg, epochs=cs["epochs"], batch_size=cs["batch_size"],
            lr=cs["lr"], temperatures=cs["temperatures"], weights=cs["weights"],
            num_negatives=cs["num_negatives"], seed=seed, log=log)
    finally:
        torch.set_num_threads(prev_threads)
    times["csp_s"] = round(time.time() - t, 1)
    summary: dict[str, Any] = {"seed": seed, "recipe": recipe, "times": times, "history": history,
                               "num_parameters": enc.num_parameters(),
                               "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__}
    if out_dir is not None:
        save_run(enc, out_dir, summary)
    if return_data:
        summary.update(encoder=enc, projection=proj, cnn=cnn, lonlat=lonlat, features=feats)
    return summary
