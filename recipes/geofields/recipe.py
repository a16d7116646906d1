"""The ``csp-geofields`` recipe: real global fields -> frozen patch features -> CSP-MC-BLD SH+SIREN encoder.

``run_recipe(RECIPE, out_dir, seed=0)`` regenerates ``weights/csp-geofields``;
``python -m recipes.geofields`` is the command line (``--recipe FILE`` merges a JSON file of changes
over ``RECIPE``); the recipe a run used is written into its ``training_summary.json``. Stages:

1. **data** (``fields``, ``patches``, ``data``): the field stack (ETOPO5 relief and bathymetry, MODIS
   land cover, Blue Marble colour, Levitus ocean temperature/salinity, COADS marine climate) on a
   0.25-degree grid; points on the sphere (part of them over land); per point a frozen feature
   vector F(I): patch statistics and MOSAIKS-style random convolutional features at two scales, plus a
   smooth positional descriptor (low-degree spherical harmonics of the patch centre).
2. **csp** (``pretrain``): CSP-MC-BLD with ``geoloc_embed.trainer.losses.mc_loss``: in-batch
   location -> image term B, random negative locations L, SimCSE dropout term D.
3. **whitening** (``whitening``): partial PCA whitening of the embedding over uniform points,
   folded into the last linear layer (the architecture does not change).
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

from .data import build_features
from .diagnostics import blocked_folds, effective_rank, uniform_points
from .pretrain import pretrain_mc
from .whitening import whiten_output_layer

__all__ = ["RECIPE", "QUICK_RECIPE", "model_config", "load_recipe", "merge_recipe", "run_recipe"]

#: The one place the architecture is written down: the named architecture ``satclip-sh-siren``
#: (spherical harmonics + SIREN, ``geoloc_embed.architectures``) with overrides, read by
#: ``geoloc_embed.architectures.resolve_model_config``. Spherical harmonics of L = 20 degrees (400
#: features; smooth and single-valued on the sphere, so continuous across the antimeridian and at the
#: poles) + SIREN 2 x 352 -> 512 (446,144 parameters).
RECIPE: dict[str, Any] = {
    "model": {
        "architecture": "satclip-sh-siren", "sh_degree": 20, "hidden_dim": 352, "num_hidden_layers": 2,
        "embed_dim": 512, "dropout": 0.1, "siren_w0": 1.0, "siren_w0_initial": 3.0,
    },
    "data": {
        "num_points": 150_000, "land_fraction": 0.4,
        "groups": ["relief", "bathymetry", "landcover", "bluemarble", "ocean", "marine_air"],
        "scales": [1, 4], "patch": 12, "num_filters": 64,
        "position_sh_degree": 8, "position_weight": 1.0,
    },
    "csp": {
        "epochs": 2, "batch_size": 512, "lr": 1e-3, "temperatures": [0.3, 0.3, 0.3], "weights": [1.0, 0.1],
        "num_negatives": 1, "proj_hidden": 0, "jitter_deg": 1.0, "warmup_steps": 100, "lr_min_ratio": 0.05,
        "weight_decay": 0.0, "heldout_frac": 0.05, "threads": 1,
    },
    "whitening": {"alpha": 0.5, "points": 20_000},
}

#: CI smoke test (well under a minute once the fields are loaded).
QUICK_RECIPE: dict[str, Any] = copy.deepcopy(RECIPE)
QUICK_RECIPE["data"].update(num_points=3000, num_filters=8)
QUICK_RECIPE["csp"].update(epochs=1, batch_size=256, warmup_steps=5)
QUICK_RECIPE["whitening"].update(points=2000)


def model_config(recipe: dict) -> LocationEncoderConfig:
    """The encoder architecture of a recipe's ``model`` section (an architecture name and overrides)."""
    return resolve_model_config(recipe["model"])


def merge_recipe(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged section by section (unknown sections or keys are errors)."""
    out = copy.deepcopy(base)
    for section, values in changes.items():
        if section.startswith("_"):
            continue
        if section not in out:
            raise ValueError(f"unknown recipe section {section!r}; known: {', '.join(out)}")
        unknown = set(values) - set(out[section]) - {k for k in values if k.startswith("_")}
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)} in recipe section {section!r}")
        out[section].update({k: v for k, v in values.items() if not k.startswith("_")})
    return out


def load_recipe(path: Union[str, Path]) -> dict:
    """A recipe JSON file merged over ``RECIPE``."""
    return merge_recipe(RECIPE, json.loads(Path(path).read_text()))


def run_recipe(recipe: dict, out_dir: Union[str, Path, None], *, seed: int = 0,
               log: Optional[Callable[[str], None]] = print, cache_dir: Union[str, Path, None] = None,
               return_data: bool = False,
               on_epoch: Optional[Callable[[Any, dict], None]] = None) -> dict:
    """Run the whole recipe, save the encoder to ``out_dir`` (if given) and return a summary."""
    log = log or (lambda _m: None)
    d, cs, wh = recipe["data"], dict(recipe["csp"]), recipe["whitening"]
    times: dict[str, float] = {}
    t = time.time()
    data = build_features(d, seed, cache_dir=cache_dir, log=log)
    times["data_s"] = round(time.time() - t, 1)
    lonlat = torch.from_numpy(data["lonlat"]).float()
    feats = data["features"]
    held = torch.from_numpy(blocked_folds(data["lonlat"], seed=seed + 99, test_frac=cs.pop("heldout_frac")))
    threads = int(cs.pop("threads", 0) or 0)
    log(f"data: {len(lonlat)} points ({int(held.sum())} held out), features {tuple(feats.shape)} "
        f"({times['data_s']}s)")

    t = time.time()
    prev_threads = torch.get_num_threads()
    if threads:  # small matrices: one thread is as fast as two on a shared 2-core machine
        torch.set_num_threads(threads)
    try:
        enc, proj, history = pretrain_mc(lonlat[~held], feats[~held], model_config(recipe),
                                         val=(lonlat[held], feats[held]), seed=seed, log=log, on_epoch=on_epoch, **cs)
    finally:
        torch.set_num_threads(prev_threads)
    times["csp_s"] = round(time.time() - t, 1)

    t = time.time()
    rank_pts = uniform_points(2000, seed=2024)
    rank_before = effective_rank(enc.encode(rank_pts, order="lonlat"))
    white = {"alpha": 0.0}
    if wh["alpha"] > 0:
        white = whiten_output_layer(enc, uniform_points(wh["points"], seed=seed + 31), wh["alpha"])
    rank_after = effective_rank(enc.encode(rank_pts, order="lonlat"))
    times["whitening_s"] = round(time.time() - t, 1)
    log(f"effective rank on 2,000 uniform points: {rank_before:.1f} after training, {rank_after:.1f} after "
        f"whitening (alpha {wh['alpha']})")
    summary: dict[str, Any] = {
        "seed": seed, "recipe": recipe, "times": times, "history": history, "whitening": white,
        "effective_rank": {"trained": round(rank_before, 2), "final": round(rank_after, 2)},
        "num_parameters": enc.num_parameters(), "num_points": int(len(lonlat)), "feature_dim": int(feats.shape[1]),
        "channels": data["channels"], "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
    }
    if out_dir is not None:
        save_run(enc, out_dir, summary)
    if return_data:
        summary.update(encoder=enc, projection=proj, lonlat=data["lonlat"], features=feats)
    return summary

