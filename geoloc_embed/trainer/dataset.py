"""The training samples: ``GeoDataset``, every tensor the training step touches, in memory.

Indexed with whole index batches (no per-item ``Dataset.__getitem__``):

* ``locations`` (N, 2) float32 [lon, lat] degrees, NaN where a sample has no location;
* ``labels`` (N,) int64 class ids (-1 = unknown), optional;
* ``features`` (N, F) float32 frozen image features F(I), optional (or raw images (N, C, H, W)
  for pre-training with a frozen image module);
* ``image_probs`` (N, Q) image-classifier probabilities P_img(y|I) for evaluation, optional
  (a dense tensor, or a scipy.sparse matrix densified one batch at a time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ["GeoDataset"]


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
