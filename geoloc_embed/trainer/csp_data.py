"""The authors' iNat2018/fMoW data layout (csp-spec.md section 4): file names and ``load_csp_split``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import Tensor

from .dataset import GeoDataset

__all__ = ["CSP_DATASETS", "csp_paths", "load_csp_split"]

PathLike = Union[str, os.PathLike]
CSP_DATASETS = ("inat_2018", "fmow")


def csp_paths(root: PathLike, dataset: str, split: str) -> dict[str, Path]:
    """File names of the authors' layout for ``dataset`` in ("inat_2018", "fmow") and ``split``.

    ``root`` is either the dataset directory itself (``.../data/inat_2018``) or its parent.
    """
    if dataset not in CSP_DATASETS:
        raise ValueError(f"unknown CSP dataset {dataset!r}; choose one of {', '.join(CSP_DATASETS)}")
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r} (the authors' data has no test split)")
    root = Path(root)
    if (root / dataset).is_dir():
        root = root / dataset
    if dataset == "inat_2018":
        return {
            "dir": root,
            "locations": root / f"{split}2018_locations.json",
            "annotations": root / f"{split}2018.json",
            "categories": root / "categories2018.json",
            "features": root / "features_inception_pretrain" / f"inat2018_{split}_pretrain_net_feats.npy",
            "preds_full": root / "features_inception" / f"inat2018_{split}_preds_sparse.npz",
            "preds_fewshot": root / "fewshot" / f"inat2018_{split}_preds_sparse_ratio{{ratio:.3f}}.npz",
        }
    return {
        "dir": root,
        "locations": root / f"{split}_location.json",
        "annotations": root / f"{split}.json",
        "categories": root / "category.json",
        "features": root / "features_inception_pretrain" / f"fmow_{split}_pretrain_net_feats.npy",
        "preds_full": root / "feature_moco" / f"fmow_{split}_preds.npy",
        "preds_fewshot": root / "fewshot" / f"fmow_{split}_preds_ratio{{ratio:.3f}}.npy",
    }


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; expected the CSP data layout (csp-spec.md section 4): "
                                "unzip the authors' geo_prior_data_csp.zip and point data_root at data/")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _load_predictions(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"image prediction file {path} not found")
    if path.suffix == ".npz":
        try:
            import scipy.sparse as sp
        except ImportError as exc:  # pragma: no cover - scipy is in the test extra
            raise ImportError(f"reading {path} (scipy-sparse predictions) needs scipy: pip install scipy") from exc
        try:
            return sp.load_npz(path).tocsr()
        except (ValueError, KeyError):
            with np.load(path) as z:  # a plain npz of one dense array
                return torch.from_numpy(np.asarray(z[z.files[0]], dtype=np.float32))
    return torch.from_numpy(np.asarray(np.load(path), dtype=np.float32))


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def load_csp_split(root: PathLike, dataset: str = "inat_2018", split: str = "train", *,
                   load_features: bool = True, predictions: Optional[str] = None,
                   ratio: Optional[float] = None, drop_missing: Optional[bool] = None,
                   mmap: bool = False) -> GeoDataset:
    """Load one split of the authors' iNat2018/fMoW layout (csp-spec.md section 4).

    Args:
        root: the dataset directory or its parent (``geo_prior_data_csp/data``).
        dataset: "inat_2018" or "fmow".
        split: "train" or "val".
        load_features: read the frozen 2048-d image features.
        predictions: None, "full" or "fewshot" (needs ``ratio``): image-classifier probabilities.
        drop_missing: drop rows with a missing lon/lat (or user, when the JSON has user ids) and
            re-index the features (the authors do this for train; default: True for train, False
            for val, whose location-less samples count in the evaluation denominator).
        mmap: memory-map the feature file instead of reading it (then copied per subset).
    """
    paths = csp_paths(root, dataset, split)
    loc_records = _read_json(paths["locations"])
    coco = _read_json(paths["annotations"])
    image_ids = [img["id"] for img in coco["images"]]
    by_id = {rec["id"]: rec for rec in loc_records}
    label_of = {ann["image_id"]: ann["category_id"] for ann in coco.get("annotations", [])}
    lon = np.array([_num(by_id.get(i, {}).get("lon")) for i in image_ids], dtype=np.float64)
    lat = np.array([_num(by_id.get(i, {}).get("lat")) for i in image_ids], dtype=np.float64)
    labels = np.array([label_of.get(i, -1) for i in image_ids], dtype=np.int64)
    has_users = any("user_id" in rec for rec in loc_records[:100])
    user_missing = np.array([has_users and by_id.get(i, {}).get("user_id") is None for i in image_ids])

    num_classes = 0
    if paths["categories"].is_file():
        cats = _read_json(paths["categories"])
        num_classes = len(cats)
    if num_classes <= 0 and labels.size:
        num_classes = int(labels.max()) + 1

    if drop_missing is None:
        drop_missing = split == "train"
    keep = np.arange(len(image_ids))
    if drop_missing:
        keep = np.nonzero(~(np.isnan(lon) | np.isnan(lat) | user_missing))[0]

    features = None
    if load_features:
        fpath = paths["features"]
        if not fpath.is_file():
            raise FileNotFoundError(f"feature file {fpath} not found (set load_features=False to train "
                                    "without precomputed image features)")
        arr = np.load(fpath, mmap_mode="r" if mmap else None)
        if arr.shape[0] != len(image_ids):
            raise ValueError(f"{fpath} has {arr.shape[0]} rows but {paths['annotations']} lists "
                             f"{len(image_ids)} images")
        features = torch.from_numpy(np.ascontiguousarray(arr[keep], dtype=np.float32))

    probs = None
    if predictions is not None:
        if predictions == "full":
            ppath = paths["preds_full"]
        elif predictions == "fewshot":
            if ratio is None:
                raise ValueError("predictions='fewshot' needs the ratio of the few-shot image classifier")
            ppath = Path(str(paths["preds_fewshot"]).format(ratio=ratio))
        else:
            raise ValueError(f"predictions must be None, 'full' or 'fewshot', got {predictions!r}")
        probs = _load_predictions(ppath)
        if probs.shape[0] != len(image_ids):
            raise ValueError(f"{ppath} has {probs.shape[0]} rows for {len(image_ids)} images")
        probs = probs[torch.as_tensor(keep)] if isinstance(probs, Tensor) else probs[keep]
        num_classes = max(num_classes, int(probs.shape[1]))

    locs = np.stack([lon, lat], axis=1)[keep].astype(np.float32)
    return GeoDataset(locations=torch.from_numpy(locs), labels=torch.from_numpy(labels[keep]),
                      features=features, image_probs=probs, num_classes=num_classes,
                      ids=np.asarray(image_ids)[keep],
                      meta={"source": "csp", "dataset": dataset, "split": split, "dir": str(paths["dir"])})
