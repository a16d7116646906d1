"""Top-k evaluation with image-probability fusion (csp-spec.md section 3.3).

* location only: argmax_y s(e(x) . T_y), over the samples that have a location;
* image only: argmax_y P_img(y | I), over all samples;
* fused: argmax_y P_img(y | I) * s(e(x) . T_y); samples without a location use P_img alone and
  count in the denominator (the authors' ``eval_remove_invalid=False``).

The fusion and the top-k rule (ties: lower class index first) are ``geoloc_embed.prior.fuse`` and
``geoloc_embed.prior.topk_counts``, the functions users call. Samples with an unknown label (< 0)
are left out of every count.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
from torch import Tensor

from ..encoders.model import LocationEncoder
from ..io import atomic_write_text
from ..prior import fuse, topk_counts
from .config import EvalConfig, config_to_dict
from .data import GeoDataset, load_dataset
from .engine import resolve_device

__all__ = ["evaluate", "run_evaluate", "topk_correct", "load_encoder"]


def topk_correct(scores: Tensor, labels: Tensor, ks: Sequence[int]) -> dict[int, int]:
    """Number of rows whose label is among the top-k scores, for each k in ``ks``.

    Kept for compatibility: ``geoloc_embed.prior.topk_counts`` (ties: lower class index first).
    """
    return topk_counts(scores, labels, ks)


@torch.no_grad()
def evaluate(model: LocationEncoder, data: GeoDataset, *, batch_size: int = 8192,
             topk: Sequence[int] = (1, 3, 5, 10), device: Union[str, torch.device, None] = None,
             use_image: bool = True) -> dict[str, Any]:
    """Accuracies (in %) of a location encoder with a class head on ``data``.

    Returns a dict with ``n``, ``n_with_location`` and ``top{k}_location``, and, when ``data``
    has image probabilities and ``use_image``, ``top{k}_image`` and ``top{k}_fused``.
    """
    if data.labels is None:
        raise ValueError("evaluation needs labels")
    dev = torch.device(device) if device is not None else model.device
    was_training = model.training
    model.eval()
    model_dev = model.device
    if model_dev != dev:
        model.to(dev)
    has_img = use_image and data.image_probs is not None
    n_lab = 0
    n_loc = 0
    acc = {"location": dict.fromkeys(topk, 0), "image": dict.fromkeys(topk, 0), "fused": dict.fromkeys(topk, 0)}
    try:
        for start in range(0, len(data), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(data)))
            labels = data.labels[idx]
            keep = labels >= 0
            if not bool(keep.any()):
                continue
            idx, labels = idx[keep], labels[keep].to(dev)
            locs = data.locations[idx]
            valid = ~torch.isnan(locs).any(dim=1)
            n_lab += int(idx.shape[0])
            n_loc += int(valid.sum())
            vd = valid.to(dev)
            prior = None
            if bool(valid.any()):
                logits = model.class_logits(model(locs[valid].to(dev)))
                prior = torch.sigmoid(logits.float())  # the same values as LocationEncoder.prior
                bad = int(torch.isnan(prior).any(dim=1).sum())
                if bad:
                    raise ValueError(f"the location encoder's class scores are NaN for {bad} of {prior.shape[0]} "
                                     "locations: its weights are probably NaN (a diverged training run: check the "
                                     "loss in metrics.jsonl)")
                for k, c in topk_counts(prior, labels[vd], topk).items():
                    acc["location"][k] += c
            rows = data.image_probs_rows(idx) if has_img else None
            if rows is not None:
                p_img = rows.to(dev)
                for k, c in topk_counts(p_img, labels, topk).items():
                    acc["image"][k] += c
                prior_rows = torch.full_like(p_img, float("nan"), dtype=torch.float32)
                if prior is not None:
                    prior_rows[vd] = prior
                fused = fuse(p_img, prior_rows, image="probs", has_location=vd)
                for k, c in topk_counts(fused, labels, topk).items():
                    acc["fused"][k] += c
    finally:
        if model_dev != dev:
            model.to(model_dev)
        model.train(was_training)
    out: dict[str, Any] = {"n": n_lab, "n_with_location": n_loc}
    for k in topk:
        out[f"top{k}_location"] = 100.0 * acc["location"][k] / max(n_loc, 1)
        if has_img:
            out[f"top{k}_image"] = 100.0 * acc["image"][k] / max(n_lab, 1)
            out[f"top{k}_fused"] = 100.0 * acc["fused"][k] / max(n_lab, 1)
    return out


def load_encoder(path_or_name: str, map_location: Any = "cpu") -> LocationEncoder:
    """A ``LocationEncoder`` from a model dir, a trainer output dir (its ``model/``), or a name."""
    p = Path(path_or_name)
    if p.is_dir() and not (p / "config.json").is_file() and (p / "model" / "config.json").is_file():
        p = p / "model"
    if p.is_dir():
        return LocationEncoder.from_directory(p, map_location=map_location)
    return LocationEncoder.from_pretrained(str(path_or_name), map_location=map_location)


def run_evaluate(config: EvalConfig, *, model: Optional[LocationEncoder] = None,
                 data: Optional[GeoDataset] = None) -> dict[str, Any]:
    """Evaluate ``config.model`` on ``config.data`` / ``config.split``; write ``config.output`` (JSON)."""
    device = resolve_device(config.device)
    if model is None:
        if not config.model:
            raise ValueError("EvalConfig.model is empty: give a model dir or a registered name")
        model = load_encoder(config.model)
    model.to(device)
    if data is None:
        preds = None if config.predictions == "none" else config.predictions
        data = load_dataset(config_to_dict(config.data), config.split, load_features=False,
                            predictions=preds, ratio=config.ratio)
    result = evaluate(model, data, batch_size=config.batch_size, topk=config.topk, device=device)
    if config.output:
        atomic_write_text(config.output, json.dumps({"config": config_to_dict(config), "metrics": result},
                                                    indent=2) + "\n")
    return result
