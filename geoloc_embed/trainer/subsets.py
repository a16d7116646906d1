"""Which rows a run uses: epoch orders (``ClassBalancedSampler``, csp-spec.md section 2.5, or a plain
permutation) and labelled few-shot subsets (``stratified_subset``, section 3.1)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from ..io import atomic_path

__all__ = ["epoch_permutation", "ClassBalancedSampler", "stratified_subset", "subset_cache_path"]

PathLike = Union[str, os.PathLike]


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
