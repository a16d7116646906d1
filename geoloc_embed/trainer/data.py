"""Training data: the loaders, and this module's historical names for the rest.

Everything the training step touches lives in one ``GeoDataset`` of tensors (``trainer.dataset``).
Loaders: ``load_arrays`` (numpy arrays or an ``.npz``) and ``load_parquet`` here,
``load_csp_split`` (the authors' directory layout, csp-spec.md section 4; ``trainer.csp_data``),
and ``load_dataset``, which dispatches on a ``DataConfig``. Epoch orders come from
``ClassBalancedSampler`` (csp-spec.md section 2.5) or a plain permutation; labelled few-shot
subsets from ``stratified_subset`` (section 3.1); both in ``trainer.subsets``. Every name keeps
working from ``geoloc_embed.trainer.data``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch

from .csp_data import CSP_DATASETS, csp_paths, load_csp_split
from .dataset import GeoDataset
from .subsets import ClassBalancedSampler, epoch_permutation, stratified_subset, subset_cache_path

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
