"""Geo-priors: fuse a location encoder's class prior with image-classifier scores, and top-k accuracy.

The fused score of class y for an image I taken at location x is (csp-spec.md section 3.3, the
geo_prior / CSP / TorchSpatial evaluation)::

    score(y) = P_img(y | I) * sigmoid(e(x) . T_y)

which assumes I and x independent given y. ``sigmoid(e(x) . T_y)`` is ``LocationEncoder.prior``;
it is left unnormalised (the argmax and every top-k set are unchanged by a per-row constant). A
sample without a location keeps ``P_img`` alone and still counts in the accuracy's denominator
(the authors' ``eval_remove_invalid=False``). With ``log=True`` the same ranking is returned as
``log P_img + log prior`` (no underflow to 0 when both factors are tiny, e.g. 8142 iNat classes).

Example:
    >>> import numpy as np
    >>> from geoloc_embed.prior import fuse, topk_accuracy
    >>> p_img = np.array([[0.5, 0.4, 0.1], [0.5, 0.4, 0.1]])
    >>> prior = np.array([[0.1, 0.9, 0.5], [np.nan, np.nan, np.nan]])  # row 1: no location
    >>> fuse(p_img, prior).round(3).tolist()
    [[0.05, 0.36, 0.05], [0.5, 0.4, 0.1]]
    >>> topk_accuracy(fuse(p_img, prior), np.array([1, 0]), k=(1, 2))
    {1: 1.0, 2: 1.0}

Top-k ties: the label ranks after every class with a strictly higher score and after the tied
classes with a *lower index* (the first-occurrence rule of ``argmax``), so top-1 accuracy is
exactly ``mean(argmax(scores) == label)``. (scikit-learn's ``top_k_accuracy_score`` breaks ties the
other way, towards the higher index; the authors' ``np.argsort`` leaves them unspecified.)
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ["fuse", "label_rank", "topk_counts", "topk_accuracy"]

#: Score entries compared at once in ``label_rank`` (bounds its boolean temporaries to ~16 MB).
_RANK_BLOCK = 1 << 24


def _as_tensor(x: Any, name: str, device: Optional[torch.device] = None) -> Tensor:
    if isinstance(x, Tensor):
        t = x.detach()
    elif isinstance(x, np.ndarray):
        t = torch.from_numpy(x if x.flags.writeable else x.copy())
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a torch tensor or a numpy array, got {type(x).__name__}") from exc
    return t.to(device) if device is not None and t.device != device else t


def _float_dtype(*tensors: Tensor) -> torch.dtype:
    """float64 if any input is float64, else float32 (half inputs are computed in float32)."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def fuse(image_scores: Any, location_prior: Any, *, image: str = "probs",
         has_location: Any = None, log: bool = False) -> Any:
    """Fused class scores ``P_img(y | I) * prior(y | x)`` (csp-spec.md section 3.3).

    Args:
        image_scores: (N, C) image-classifier output: probabilities (``image="probs"``, each
            in [0, 1], e.g. softmax outputs) or raw logits (``image="logits"``, softmax is applied
            over the C classes first). A torch tensor (any device) or a numpy array.
        location_prior: (N, C) location prior in [0, 1], e.g. ``enc.prior(coords)`` (the
            sigmoid of the class head, not normalised over classes). torch or numpy; moved to
            ``image_scores``' device. A row that is entirely NaN means "no location".
        image: "probs" or "logits": what ``image_scores`` holds.
        has_location: optional (N,) bool mask; rows where it is False have no location (their
            prior row is ignored, whatever it holds). Default: rows of ``location_prior`` that are
            all NaN.
        log: False returns the product (the spec's score); True returns
            ``log P_img + log prior`` (same ranking, no underflow; ``-inf`` where a factor is 0).

    Returns:
        (N, C) fused scores, of the same kind as ``image_scores`` (a torch tensor on its device,
        or a numpy array), float32 (float64 when an input is float64). Rows without a location
        hold ``P_img`` (``log P_img`` with ``log=True``): the image classifier alone. Rows are
        not normalised; divide by the row sum for a posterior.

    Raises:
        ValueError: on shape mismatches, probabilities outside [0, 1] (pass ``image="logits"``
            for raw classifier outputs), NaN image scores, or a partly-NaN prior row.
    """
    if image not in ("probs", "logits"):
        raise ValueError(f"image must be 'probs' or 'logits', got {image!r}")
    as_numpy = not isinstance(image_scores, Tensor)
    img = _as_tensor(image_scores, "image_scores")
    pri = _as_tensor(location_prior, "location_prior", img.device)
    if img.ndim != 2:
        raise ValueError(f"image_scores must be (N, C), got shape {tuple(img.shape)}")
    if pri.shape != img.shape:
        raise ValueError(f"location_prior has shape {tuple(pri.shape)} but image_scores has {tuple(img.shape)}: "
                         "both are (N samples, C classes) in the same class order")
    dtype = _float_dtype(img, pri)
    img, pri = img.to(dtype), pri.to(dtype)
    if bool(torch.isnan(img).any()):
        raise ValueError("image_scores contain NaN")
    if image == "probs":
        if img.numel() and not bool(((img >= 0) & (img <= 1)).all()):
            raise ValueError(f"image_scores hold values in [{float(img.min()):.4g}, {float(img.max()):.4g}], "
                             "outside [0, 1]: pass image='logits' for raw classifier outputs")
        img_part = torch.log(img) if log else img
    else:
        img_part = torch.log_softmax(img, dim=1) if log else torch.softmax(img, dim=1)

    nan = torch.isnan(pri)
    if has_location is None:
        valid = ~nan.all(dim=1) if img.shape[1] else torch.ones(img.shape[0], dtype=torch.bool, device=img.device)
    else:
        valid = _as_tensor(has_location, "has_location", img.device)
        if valid.dtype != torch.bool or valid.shape != (img.shape[0],):
            raise ValueError(f"has_location must be a ({img.shape[0]},) bool mask, got "
                             f"{valid.dtype} of shape {tuple(valid.shape)}")
    bad = nan.any(dim=1) & valid
    if bool(bad.any()):
        row = int(torch.nonzero(bad)[0])
        raise ValueError(f"location_prior row {row} holds NaN: a row without a location must be all NaN "
                         "(or be marked False in has_location)")
    pv = pri[valid]
    if pv.numel() and not bool(((pv >= 0) & (pv <= 1)).all()):
        raise ValueError("location_prior holds values outside [0, 1]: pass enc.prior(...) (the sigmoid of the "
                         "class head), not enc.logits(...)")

    fused = img_part.clone()
    fused[valid] = (img_part[valid] + torch.log(pv)) if log else (img_part[valid] * pv)
    return fused.cpu().numpy() if as_numpy else fused


def _check_scores_labels(scores: Any, labels: Any) -> tuple[Tensor, Tensor]:
    s = _as_tensor(scores, "scores")
    y = _as_tensor(labels, "labels", s.device)
    if s.ndim != 2:
        raise ValueError(f"scores must be (N, C), got shape {tuple(s.shape)}")
    if y.ndim != 1 or y.shape[0] != s.shape[0]:
        raise ValueError(f"labels must be ({s.shape[0]},) class indices, got shape {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got {y.dtype}")
    y = y.long()
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= s.shape[1]):
        raise ValueError(f"labels must be in [0, {s.shape[1]}), got values in [{int(y.min())}, {int(y.max())}]; "
                         "drop unknown labels (< 0) first")
    if bool(torch.isnan(s).any()):
        raise ValueError("scores contain NaN: their ranking is undefined")
    return s, y


def label_rank(scores: Any, labels: Any) -> Tensor:
    """0-based rank of each row's label among its scores (0 = top-1).

    Args:
        scores: (N, C) scores, higher is better (torch or numpy).
        labels: (N,) integer class indices in [0, C).

    Returns:
        (N,) int64 tensor (on ``scores``' device): the number of classes scoring strictly higher
        than the label, plus the tied classes with a lower index than the label.
    """
    s, y = _check_scores_labels(scores, labels)
    n, c = s.shape
    ranks = torch.empty(n, dtype=torch.long, device=s.device)
    block = max(1, _RANK_BLOCK // max(c, 1))
    cols = torch.arange(c, device=s.device)
    for lo in range(0, n, block):
        sb, yb = s[lo:lo + block], y[lo:lo + block]
        own = sb.gather(1, yb[:, None])
        above = (sb > own).sum(dim=1)
        tied_before = ((sb == own) & (cols[None, :] < yb[:, None])).sum(dim=1)
        ranks[lo:lo + block] = above + tied_before
    return ranks


def _ks(k: Union[int, Sequence[int]]) -> tuple[int, ...]:
    ks = (k,) if isinstance(k, int) else tuple(k)
    if not ks or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in ks):
        raise ValueError(f"k must be a positive integer or a sequence of them, got {k!r}")
    return tuple(int(v) for v in ks)


def topk_counts(scores: Any, labels: Any, k: Union[int, Sequence[int]] = (1, 3, 5, 10)) -> dict[int, int]:
    """Number of rows whose label ranks within the top k (ties as in ``label_rank``), per k."""
    ks = _ks(k)
    ranks = label_rank(scores, labels)
    return {v: int((ranks < v).sum()) for v in ks}


def topk_accuracy(scores: Any, labels: Any, k: Union[int, Sequence[int]] = (1, 3, 5, 10)) -> dict[int, float]:
    """Top-k accuracy, a fraction in [0, 1] for each k (multiply by 100 for the papers' %).

    Args:
        scores: (N, C) class scores, e.g. ``fuse(...)``, image probabilities or ``enc.prior(...)``.
        labels: (N,) integer class indices in [0, C).
        k: one k or several; a k of C or more counts every row.

    Returns:
        ``{k: accuracy}``; ties rank the lower class index first (see the module docstring). An
        empty input gives NaN.
    """
    counts = topk_counts(scores, labels, k)
    n = _as_tensor(labels, "labels").shape[0]
    return {v: (c / n if n else float("nan")) for v, c in counts.items()}
