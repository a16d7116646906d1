"""Small synthetic datasets written in exactly the authors' iNat2018/fMoW layout (for tests/demos).

Classes live around a few centres on the sphere; image "features" mix a class signature with a
smooth function of the location plus noise, so contrastive location-image pre-training has
something to learn and a location prior helps a weak image classifier.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from ..coords import sample_uniform_sphere
from ..io import atomic_path, atomic_write_text
from .data import csp_paths

__all__ = ["make_synthetic_csp_data", "synthetic_arrays"]


def _sphere(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 2) float64 [lon, lat] uniform on the sphere, from a torch generator seeded by ``rng``."""
    generator = torch.Generator().manual_seed(int(rng.integers(0, 2**63)))
    return sample_uniform_sphere(n, generator=generator, dtype=torch.float64).numpy()


def _smooth(loc: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(loc[:, 0]), np.radians(loc[:, 1])
    x, y, z = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    return np.stack([x, y, z, x * y, y * z, x * z, x * x - y * y, 3 * z * z - 1,
                     np.sin(2 * lon) * np.cos(lat), np.cos(3 * lon) * np.cos(lat)], 1)


def synthetic_arrays(n: int, *, num_classes: int = 8, feature_dim: int = 64, seed: int = 0,
                     centres_per_class: int = 2, spread_deg: float = 8.0, image_strength: float = 1.0,
                     class_seed: Optional[int] = None) -> dict[str, np.ndarray]:
    """``{"locations", "labels", "features", "image_probs"}`` numpy arrays for ``n`` samples.

    The class geography and feature maps depend on ``class_seed`` (default ``seed``); the samples
    on ``seed``. Use the same ``class_seed`` for train and val splits.
    """
    world = np.random.default_rng(seed if class_seed is None else class_seed)
    centres = _sphere(world, num_classes * centres_per_class).reshape(num_classes, centres_per_class, 2)
    class_sig = world.normal(0, 1, (num_classes, feature_dim))
    loc_map = world.normal(0, 1, (10, feature_dim))
    rng = np.random.default_rng(seed + 7919)
    labels = rng.integers(0, num_classes, n)
    which = rng.integers(0, centres_per_class, n)
    loc = centres[labels, which] + rng.normal(0, spread_deg, (n, 2)) * [1.0, 0.5]
    loc[:, 1] = np.clip(loc[:, 1], -89.9, 89.9)
    loc[:, 0] = (loc[:, 0] + 180.0) % 360.0 - 180.0
    feats = 0.7 * class_sig[labels] + 1.5 * _smooth(loc) @ loc_map + rng.normal(0, 0.5, (n, feature_dim))
    logits = image_strength * np.eye(num_classes)[labels] + rng.normal(0, 1.0, (n, num_classes))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    return {"locations": loc.astype(np.float32), "labels": labels.astype(np.int64),
            "features": feats.astype(np.float32), "image_probs": probs.astype(np.float32)}


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, arr)


def _save_probs(path: Path, probs: np.ndarray, sparse: bool) -> None:
    if sparse:
        import scipy.sparse as sp

        probs = np.where(probs < 1e-3, 0.0, probs).astype(np.float32)  # sparse like the authors' files
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                sp.save_npz(fh, sp.csr_matrix(probs))
    else:
        _save_npy(path, probs)


def make_synthetic_csp_data(root: Union[str, Path], dataset: str = "inat_2018", *, num_classes: int = 8,
                            n_train: int = 2000, n_val: int = 400, feature_dim: int = 64, seed: int = 0,
                            missing_train_fraction: float = 0.02, missing_val_fraction: float = 0.05,
                            fewshot_ratios: Sequence[float] = (0.05, 0.1, 0.2),
                            image_strength: float = 1.0) -> Path:
    """Write a synthetic ``dataset`` ("inat_2018" or "fmow") under ``root/<dataset>/``; return that dir.

    Files: locations JSON (id, lon, lat, user_id, date_c; some lon/lat None), COCO-style
    annotations, categories, ``features_inception_pretrain/*_pretrain_net_feats.npy`` and the
    validation image predictions (iNat: scipy-sparse ``.npz``; fMoW: ``.npy``), "full" and
    "fewshot" at each of ``fewshot_ratios``.
    """
    root = Path(root)
    (root / dataset).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    sparse = dataset == "inat_2018"
    cat_path = csp_paths(root, dataset, "train")["categories"]
    if dataset == "inat_2018":
        atomic_write_text(cat_path, json.dumps([{"id": c, "name": f"class_{c}"} for c in range(num_classes)]))
    else:
        atomic_write_text(cat_path, json.dumps({f"class_{c}": c for c in range(num_classes)}))
    next_id = 1000
    for split, n, missing in (("train", n_train, missing_train_fraction), ("val", n_val, missing_val_fraction)):
        paths = csp_paths(root, dataset, split)
        arr = synthetic_arrays(n, num_classes=num_classes, feature_dim=feature_dim,
                               seed=seed + (0 if split == "train" else 101), class_seed=seed,
                               image_strength=image_strength)
        ids = list(range(next_id, next_id + n))
        next_id += n
        drop = rng.random(n) < missing
        records = []
        for k, i in enumerate(ids):
            lon, lat = (None, None) if drop[k] else (float(arr["locations"][k, 0]), float(arr["locations"][k, 1]))
            records.append({"id": i, "lon": lon, "lat": lat, "user_id": int(rng.integers(0, 50)),
                            "date_c": float(rng.random())})
        rng.shuffle(records)  # the loader must join by id, not by position
        atomic_write_text(paths["locations"], json.dumps(records))
        coco = {"images": [{"id": i, "file_name": f"{i}.jpg"} for i in ids],
                "annotations": [{"id": k, "image_id": i, "category_id": int(arr["labels"][k])}
                                for k, i in enumerate(ids)],
                "categories": [{"id": c} for c in range(num_classes)]}
        atomic_write_text(paths["annotations"], json.dumps(coco))
        _save_npy(paths["features"], arr["features"])
        if split == "val":
            _save_probs(paths["preds_full"], arr["image_probs"], sparse)
            for ratio in fewshot_ratios:
                weaker = synthetic_arrays(n, num_classes=num_classes, feature_dim=feature_dim,
                                          seed=seed + 101, class_seed=seed,
                                          image_strength=image_strength * 0.5)["image_probs"]
                _save_probs(Path(str(paths["preds_fewshot"]).format(ratio=ratio)), weaker, sparse)
    return root / dataset
