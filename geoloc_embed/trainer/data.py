"""Training data: in-memory tensors, the authors' iNat2018/fMoW layout, arrays, Parquet; samplers.

Everything the training step touches lives in one ``GeoDataset`` of tensors, indexed with whole
index batches (no per-item ``Dataset.__getitem__``):

* ``locations`` (N, 2) float32 [lon, lat] degrees, NaN where a sample has no location;
* ``labels`` (N,) int64 class ids (-1 = unknown), optional;
* ``features`` (N, F) float32 frozen image features F(I), optional (or raw images (N, C, H, W)
  for pre-training with a frozen image module);
* ``image_probs`` (N, Q) image-classifier probabilities P_img(y|I) for evaluation, optional
  (a dense tensor, or a scipy.sparse matrix densified one batch at a time).

Loaders: ``load_csp_split`` (the authors' directory layout, csp-spec.md section 4),
``load_arrays`` (numpy arrays or an ``.npz``) and ``load_parquet``. Epoch orders come from
``ClassBalancedSampler`` (csp-spec.md section 2.5) or a plain permutation; labelled few-shot
subsets from ``stratified_subset`` (section 3.1).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from ..io import atomic_path

__all__ = [
    "GeoDataset",
    "ClassBalancedSampler",
    "epoch_permutation",
    "stratified_subset",
    "subset_cache_path",
    "load_csp_split",
    "csp_paths",
    "load_arrays",
    "load_parquet",
    "load_dataset",
    "CSP_DATASETS",
]

PathLike = Union[str, os.PathLike]
CSP_DATASETS = ("inat_2018", "fmow")


# --------------------------------------------------------------------------- container
@dataclass
class GeoDataset:
    """In-memory samples; see the module docstring for the fields."""

    locations: Tensor
    labels: Optional[Tensor] = None
    features: Optional[Tensor] = None
    image_probs: Any = None
    num_classes: int = 0
    ids: Optional[np.ndarray] = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.locations = torch.as_tensor(self.locations, dtype=torch.float32).reshape(-1, 2)
        n = self.locations.shape[0]
        if self.labels is not None:
            lab = self.labels
            if not isinstance(lab, Tensor):
                lab = torch.from_numpy(np.array(lab, dtype=np.int64))
            self.labels = lab.to(torch.long).reshape(-1)
            if self.labels.shape[0] != n:
                raise ValueError(f"{self.labels.shape[0]} labels for {n} locations")
            if self.num_classes <= 0 and n:
                self.num_classes = int(self.labels.max()) + 1
        if self.features is not None:
            if isinstance(self.features, np.ndarray):
                arr = np.ascontiguousarray(self.features, dtype=np.float32)
                self.features = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
            else:
                self.features = torch.as_tensor(self.features, dtype=torch.float32)
            if self.features.ndim < 2 or self.features.shape[0] != n:
                raise ValueError(f"features must be (N, F) (or (N, ...) raw images for a frozen image "
                                 f"module) with N = {n}, got {tuple(self.features.shape)}")
        if self.image_probs is not None:
            if isinstance(self.image_probs, np.ndarray):
                self.image_probs = torch.from_numpy(np.array(self.image_probs, dtype=np.float32))
            if self.image_probs.shape[0] != n:
                raise ValueError(f"image_probs has {self.image_probs.shape[0]} rows for {n} samples")
            if self.num_classes <= 0:
                self.num_classes = int(self.image_probs.shape[1])
        if self.ids is not None:
            self.ids = np.asarray(self.ids)
            if self.ids.shape[0] != n:
                raise ValueError(f"{self.ids.shape[0]} ids for {n} samples")

    def __len__(self) -> int:
        return int(self.locations.shape[0])

    @property
    def feature_dim(self) -> int:
        """F for (N, F) features; 0 without features or for raw images (N, C, H, W)."""
        if self.features is None or self.features.ndim != 2:
            return 0
        return int(self.features.shape[1])

    def valid_location_mask(self) -> Tensor:
        return ~torch.isnan(self.locations).any(dim=1)

    def subset(self, idx: Union[Tensor, np.ndarray, Sequence[int]]) -> "GeoDataset":
        """A new dataset holding rows ``idx`` (tensors are indexed, i.e. copied)."""
        t = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        probs = self.image_probs
        if probs is not None:
            probs = probs[t] if isinstance(probs, Tensor) else probs[t.numpy()]
        return GeoDataset(
            locations=self.locations[t],
            labels=None if self.labels is None else self.labels[t],
            features=None if self.features is None else self.features[t],
            image_probs=probs,
            num_classes=self.num_classes,
            ids=None if self.ids is None else self.ids[t.numpy()],
            meta=dict(self.meta),
        )

    def image_probs_rows(self, idx: Tensor) -> Optional[Tensor]:
        """Dense float32 (B, Q) image probabilities for rows ``idx`` (densifies sparse storage)."""
        if self.image_probs is None:
            return None
        if isinstance(self.image_probs, Tensor):
            return self.image_probs[idx.cpu()].float()
        rows = self.image_probs[idx.cpu().numpy()]
        rows = rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)
        return torch.from_numpy(np.asarray(rows, dtype=np.float32))


# --------------------------------------------------------------------------- epoch orders
def epoch_permutation(n: int, generator: torch.Generator) -> Tensor:
    """A shuffled order of all ``n`` rows (CPU int64)."""
    return torch.randperm(n, generator=generator)


class ClassBalancedSampler:
    """The authors' ``BalancedSampler`` (csp-spec.md section 2.5), vectorised.

    Each epoch takes min(n_c, ``max_per_class``) examples of every class without replacement,
    then shuffles them all. Rows with an unknown label (< 0) are treated as one more class.
    """

    def __init__(self, labels: Tensor, max_per_class: int = 100) -> None:
        if max_per_class < 1:
            raise ValueError(f"max_per_class must be >= 1, got {max_per_class}")
        self.labels = torch.as_tensor(labels, dtype=torch.long).cpu().clamp(min=-1)
        self.max_per_class = int(max_per_class)
        counts = torch.bincount(self.labels + 1)
        self.epoch_size = int(counts.clamp(max=self.max_per_class).sum())

    def __len__(self) -> int:
        return self.epoch_size

    def epoch_indices(self, generator: torch.Generator) -> Tensor:
        n = self.labels.shape[0]
        perm = torch.randperm(n, generator=generator)
        lab = self.labels[perm]
        order = torch.sort(lab, stable=True).indices          # grouped by class, random within class
        grouped = perm[order]
        glab = lab[order]
        starts = torch.ones(n, dtype=torch.bool)
        starts[1:] = glab[1:] != glab[:-1]
        start_pos = torch.cummax(torch.where(starts, torch.arange(n), torch.zeros(n, dtype=torch.long)), 0).values
        rank = torch.arange(n) - start_pos
        chosen = grouped[rank < self.max_per_class]
        return chosen[torch.randperm(chosen.shape[0], generator=generator)]


# --------------------------------------------------------------------------- few-shot subsets
def subset_cache_path(data_dir: PathLike, ratio: float) -> Path:
    """``<data_dir>/sample_idx/train_sample_ratio{ratio:.3f}.npy`` (the authors' cache name)."""
    return Path(data_dir) / "sample_idx" / f"train_sample_ratio{ratio:.3f}.npy"


def stratified_subset(labels: Union[np.ndarray, Tensor, Sequence[int]], ratio: float, *, seed: int = 0,
                      cache_dir: Optional[PathLike] = None) -> np.ndarray:
    """Sorted indices of a stratified labelled subset (``stratified-fix``, csp-spec.md section 3.1).

    For every class c with n_c examples take k_c = max(1, round_half_even(n_c * ratio)) of them
    without replacement (deterministic for a given ``seed``). With ``cache_dir`` the indices are
    stored in ``cache_dir/sample_idx/train_sample_ratio{ratio:.3f}.npy`` (atomically) and an
    existing file there is reused, as the authors' code does. ``ratio >= 1`` returns every index.
    """
    lab = np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels).astype(np.int64).reshape(-1)
    n = lab.shape[0]
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"train_sample_ratio must be in (0, 1], got {ratio}")
    if ratio >= 1.0:
        return np.arange(n, dtype=np.int64)
    path = subset_cache_path(cache_dir, ratio) if cache_dir is not None else None
    if path is not None and path.is_file():
        idx = np.load(path).astype(np.int64)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n)):
            raise ValueError(f"{path} does not index a dataset of {n} rows; delete it to resample")
        return idx
    rng = np.random.default_rng(seed)
    keys = rng.random(n)
    order = np.lexsort((keys, lab))                  # by class, random within class
    glab = lab[order]
    _, starts, counts = np.unique(glab, return_index=True, return_counts=True)
    k = np.maximum(1, np.round(counts * ratio).astype(np.int64))   # np.round: half to even
    rank = np.arange(n) - np.repeat(starts, counts)
    chosen = np.sort(order[rank < np.repeat(k, counts)])
    if path is not None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, chosen)
    return chosen


# --------------------------------------------------------------------------- the authors' layout
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


# --------------------------------------------------------------------------- arrays and Parquet
def load_arrays(source: Union[PathLike, Mapping[str, Any]], *, locations_key: str = "locations",
                labels_key: str = "labels", features_key: str = "features",
                image_probs_key: str = "image_probs", num_classes: int = 0) -> GeoDataset:
    """A dataset from in-memory arrays or an ``.npz``: ``locations`` (N, 2) [lon, lat] degrees and
    optional ``labels`` (N,), ``features`` (N, F), ``image_probs`` (N, Q)."""
    if not isinstance(source, Mapping):
        with np.load(Path(source)) as z:
            source = {k: z[k] for k in z.files}
    if locations_key not in source:
        raise KeyError(f"no {locations_key!r} array (N, 2 [lon, lat] degrees) in {sorted(source)}")
    return GeoDataset(locations=torch.as_tensor(np.asarray(source[locations_key], dtype=np.float32)),
                      labels=source.get(labels_key), features=source.get(features_key),
                      image_probs=source.get(image_probs_key), num_classes=num_classes,
                      meta={"source": "arrays"})


def load_parquet(path: PathLike, *, lon: str = "lon", lat: str = "lat", label: Optional[str] = "label",
                 features: Optional[Union[str, Sequence[str]]] = "features",
                 image_probs: Optional[str] = None, num_classes: int = 0) -> GeoDataset:
    """A dataset from a Parquet file (pandas + pyarrow).

    ``features`` names either one list/array column or a sequence of scalar columns (or a string
    prefix ending in "*", e.g. "f_*"); missing optional columns are skipped.
    """
    import pandas as pd

    df = pd.read_parquet(path)
    for col in (lon, lat):
        if col not in df.columns:
            raise KeyError(f"{path} has no column {col!r}; columns are {list(df.columns)}")
    locs = np.stack([df[lon].to_numpy(np.float64), df[lat].to_numpy(np.float64)], axis=1)
    labels = df[label].to_numpy(np.int64) if label and label in df.columns else None
    feats = None
    if isinstance(features, str) and features.endswith("*"):
        cols = [c for c in df.columns if str(c).startswith(features[:-1])]
        feats = df[cols].to_numpy(np.float32) if cols else None
    elif isinstance(features, str):
        if features in df.columns:
            feats = np.stack(df[features].to_numpy()).astype(np.float32)
    elif features is not None:
        feats = df[list(features)].to_numpy(np.float32)
    probs = None
    if image_probs and image_probs in df.columns:
        probs = np.stack(df[image_probs].to_numpy()).astype(np.float32)
    return GeoDataset(locations=torch.from_numpy(locs.astype(np.float32)), labels=labels, features=feats,
                      image_probs=probs, num_classes=num_classes, meta={"source": "parquet", "path": str(path)})


def load_dataset(spec: Mapping[str, Any], split: str, *, load_features: bool = True,
                 predictions: Optional[str] = None, ratio: Optional[float] = None) -> GeoDataset:
    """Dispatch on a ``DataConfig``-like mapping: ``format`` in ("csp", "arrays", "parquet")."""
    fmt = spec.get("format", "csp")
    if fmt == "csp":
        return load_csp_split(spec["root"], spec.get("dataset", "inat_2018"), split,
                              load_features=load_features, predictions=predictions, ratio=ratio)
    path = spec.get(f"{split}_path")
    if not path:
        raise ValueError(f"data.{split}_path is not set for data.format={fmt!r}")
    if fmt == "arrays":
        return load_arrays(path, num_classes=int(spec.get("num_classes", 0) or 0))
    if fmt == "parquet":
        cols = dict(spec.get("columns") or {})
        return load_parquet(path, num_classes=int(spec.get("num_classes", 0) or 0), **cols)
    raise ValueError(f"unknown data.format {fmt!r}; choose csp, arrays or parquet")
