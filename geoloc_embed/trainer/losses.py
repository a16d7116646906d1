"""CSP pre-training and geo_prior fine-tuning losses, as pure functions of embeddings.

Conventions (csp-spec.md section 2, section 3.2 and section 9 item 17):

* ``u`` (N, d): first-pass location embeddings e(x_i); ``u2`` (N, d): a second forward pass of the
  same locations with another dropout mask (SimCSE, the "D" term); ``v`` (N, d): projected image
  embeddings W(F(I_i)); ``neg_u`` (N, C, d): embeddings of C random negative locations per anchor,
  element ``[i, c]`` being the authors' row ``c * N + i``.
* Inputs are unnormalised; every function L2-normalises them itself with plain division by the
  norm (no epsilon, like the authors' code).
* Temperatures DIVIDE the logits; ``temperatures = (tau0, tau1, tau2)`` go to (B, L, D).
* MC ``weights = (alpha1, alpha2)`` and NCE ``weights = (beta1, beta2)`` weight (L, D).
* Binary cross-entropies are written ``-log(p + 1e-5)``.

Data-parallel training (``geoloc_embed.trainer.distributed``) may gather the in-batch candidates from
every rank: then ``v`` / ``u2`` (and ``u_all`` for the symmetric term) hold the global batch
(M >= N rows) and anchor ``i`` of this rank matches global row ``offset + i``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "LossTerms",
    "l2_normalize",
    "mc_loss",
    "nce_loss",
    "mse_loss",
    "presence_absence_loss",
    "neg_log",
    "BCE_EPS",
]

#: The epsilon inside the authors' binary cross-entropy ``-log(p + 1e-5)``.
BCE_EPS = 1e-5


class LossTerms(NamedTuple):
    """A loss total and its unweighted terms (zero tensors for terms that were not computed)."""

    total: Tensor
    b: Tensor
    l: Tensor  # noqa: E741 - the paper's name for the random-location term
    d: Tensor

    def as_dict(self) -> dict[str, float]:
        return {"loss": float(self.total.detach()), "loss_b": float(self.b.detach()),
                "loss_l": float(self.l.detach()), "loss_d": float(self.d.detach())}


def l2_normalize(x: Tensor) -> Tensor:
    """x / ||x|| along the last dimension, without epsilon (an all-zero row gives NaN, as in CSP)."""
    return x / x.norm(dim=-1, keepdim=True)


def neg_log(p: Tensor) -> Tensor:
    """The authors' ``-log(p + 1e-5)``."""
    return -torch.log(p + BCE_EPS)


def _check(u: Tensor, v: Tensor, name: str = "v") -> None:
    if u.ndim != 2 or v.ndim != 2 or u.shape[-1] != v.shape[-1]:
        raise ValueError(f"expected u (N, d) and {name} (M, d) with the same d, got {tuple(u.shape)} "
                         f"and {tuple(v.shape)}")
    if v.shape[0] < u.shape[0]:
        raise ValueError(f"{name} has fewer rows ({v.shape[0]}) than u ({u.shape[0]})")


def _local(x: Tensor, offset: int, n: int) -> Tensor:
    return x if x.shape[0] == n and offset == 0 else x[offset:offset + n]


def _similarities(a: Tensor, b: Tensor, tau: float) -> Tensor:
    """(a @ b.T) / tau for (N, d) a and (M, d) b, dividing the N x d side (N*d, not N*M, divisions)."""
    return (a if tau == 1.0 else a / tau) @ b.T


def mc_loss(
    u: Tensor,
    u2: Optional[Tensor],
    v: Tensor,
    neg_u: Optional[Tensor],
    temperatures: Sequence[float] = (1.0, 1.0, 1.0),
    weights: Sequence[float] = (1.0, 1.0),
    symmetric: bool = False,
    *,
    offset: int = 0,
    u_all: Optional[Tensor] = None,
) -> LossTerms:
    """CSP-MC (``contsoftmax``; ``contsoftmaxsym`` with ``symmetric=True``), csp-spec.md section 2.1.

    * B: cross-entropy over rows of [u_i . v_j / tau0]_j with target j = i (location -> image).
      ``symmetric`` adds the image -> location cross-entropy on the transposed matrix.
    * L: cross-entropy over [u_i . v_i, u-_{i,1} . v_i, ..., u-_{i,C} . v_i] / tau1 with target 0.
    * D: cross-entropy over rows of [u_i . u2_j / tau2]_j with target i.
    * total = B + alpha1 * L + alpha2 * D (terms with weight 0 are still computed when their
      inputs are given; pass ``u2=None`` / ``neg_u=None`` to skip D / L entirely).

    Args:
        u: (N, d) first-pass location embeddings.
        u2: (M, d) second-pass embeddings of the same locations, or None.
        v: (M, d) image embeddings (M = N, or the gathered global batch, see ``offset``).
        neg_u: (N, C, d) negative-location embeddings, or None.
        temperatures: (tau0, tau1, tau2), dividing the logits of B, L and D.
        weights: (alpha1, alpha2) for L and D.
        symmetric: add the image -> location direction to B.
        offset: row of ``v``/``u2``/``u_all`` that matches ``u[0]`` (data-parallel gathering).
        u_all: (M, d) gathered first-pass embeddings; needed for ``symmetric`` when M > N.

    Returns:
        ``LossTerms(total, b, l, d)``.
    """
    tau0, tau1, tau2 = (float(t) for t in temperatures)
    alpha1, alpha2 = (float(w) for w in weights)
    _check(u, v)
    n = u.shape[0]
    un = l2_normalize(u)
    vn = l2_normalize(v)
    target = torch.arange(offset, offset + n, device=u.device)

    logits_b = _similarities(un, vn, tau0)
    loss_b = F.cross_entropy(logits_b, target)
    if symmetric:
        if v.shape[0] != n and u_all is None:
            raise ValueError("symmetric MC with gathered candidates needs u_all (the gathered u)")
        ua = un if u_all is None else l2_normalize(u_all)
        loss_b = loss_b + F.cross_entropy(_similarities(_local(vn, offset, n), ua, tau0), target)

    zero = logits_b.new_zeros(())
    loss_l = zero
    v_local = _local(vn, offset, n)
    if neg_u is not None:
        if neg_u.ndim != 3 or neg_u.shape[0] != n or neg_u.shape[-1] != u.shape[-1]:
            raise ValueError(f"neg_u must be (N, C, d) = ({n}, C, {u.shape[-1]}), got {tuple(neg_u.shape)}")
        negn = l2_normalize(neg_u)
        pos = (un * v_local).sum(-1, keepdim=True)                 # (N, 1)
        neg = torch.einsum("ncd,nd->nc", negn, v_local)             # (N, C)
        logits_l = torch.cat([pos, neg], dim=1)
        if tau1 != 1.0:
            logits_l = logits_l / tau1
        loss_l = F.cross_entropy(logits_l, torch.zeros(n, dtype=torch.long, device=u.device))

    loss_d = zero
    if u2 is not None:
        _check(u, u2, "u2")
        logits_d = _similarities(un, l2_normalize(u2), tau2)
        loss_d = F.cross_entropy(logits_d, target)

    total = loss_b + alpha1 * loss_l + alpha2 * loss_d
    return LossTerms(total, loss_b, loss_l, loss_d)


def _nce_pairs(a: Tensor, b: Tensor, offset: int) -> Tensor:
    """Per-anchor NCE: -log(s(a_i.b_i)+eps) + mean_{j != i} -log(1 - s(a_i.b_j) + eps); shape (N,)."""
    n, m = a.shape[0], b.shape[0]
    p = torch.sigmoid(a @ b.T)                                      # (N, M)
    idx = torch.arange(n, device=a.device)
    diag = torch.zeros(n, m, dtype=torch.bool, device=a.device)
    diag[idx, idx + offset] = True
    pos = neg_log(p[idx, idx + offset])                             # (N,)
    neg = neg_log(1.0 - p).masked_fill(diag, 0.0).sum(1) / (m - 1)  # mean over j != i
    return pos + neg


def nce_loss(
    u: Tensor,
    u2: Optional[Tensor],
    v: Tensor,
    neg_u: Optional[Tensor],
    weights: Sequence[float] = (1.0, 1.0),
    *,
    offset: int = 0,
) -> LossTerms:
    """CSP-NCE-BLD (``imgcontlosssimcse``), csp-spec.md section 2.2; no temperature.

    * B_i = -log(s(u_i . v_i) + 1e-5) + mean_{j != i} -log(1 - s(u_i . v_j) + 1e-5)
    * L_i = mean_c -log(1 - s(u-_{i,c} . v_i) + 1e-5) (no positive term)
    * D_i = B_i with (u, u2) in place of (u, v)
    * total = mean_i B_i + beta1 * mean_i L_i + beta2 * mean_i D_i

    ``u2=None`` skips D (NCE-BL), ``neg_u=None`` skips L. Shapes as in ``mc_loss``.
    """
    beta1, beta2 = (float(w) for w in weights)
    _check(u, v)
    if v.shape[0] < 2:
        raise ValueError("NCE needs at least two samples in the batch")
    n = u.shape[0]
    un = l2_normalize(u)
    vn = l2_normalize(v)
    loss_b = _nce_pairs(un, vn, offset).mean()
    zero = loss_b.new_zeros(())
    loss_l = zero
    if neg_u is not None:
        negn = l2_normalize(neg_u)
        sim = torch.einsum("ncd,nd->nc", negn, _local(vn, offset, n))
        loss_l = neg_log(1.0 - torch.sigmoid(sim)).mean()
    loss_d = zero
    if u2 is not None:
        _check(u, u2, "u2")
        loss_d = _nce_pairs(un, l2_normalize(u2), offset).mean()
    total = loss_b + beta1 * loss_l + beta2 * loss_d
    return LossTerms(total, loss_b, loss_l, loss_d)


def mse_loss(decoded: Tensor, features: Tensor) -> LossTerms:
    """The MSE baseline (``l2regress``, csp-spec.md section 2.3).

    ``decoded`` = loc_dec(e(x)) with loc_dec = Linear(d -> F_dim); ``features`` = the raw frozen
    image features F(I), both (N, F_dim). Mean over all N * F_dim entries.
    """
    if decoded.shape != features.shape:
        raise ValueError(f"decoded {tuple(decoded.shape)} and features {tuple(features.shape)} differ")
    loss = F.mse_loss(decoded, features.to(decoded.dtype))
    zero = loss.new_zeros(())
    return LossTerms(loss, loss, zero, zero)


class _PresenceAbsenceMean(torch.autograd.Function):
    """mean over (N, Q) of -log(1 - s(z) + eps), entries (i, labels[i]) replaced by weight * -log(s(z) + eps).

    One autograd node instead of the dozen elementwise ones of the plain formula: the forward
    keeps only s(z), and the backward writes d/dz -log(1 - s + eps) = s (1 - s) / (1 - s + eps)
    and d/dz -log(s + eps) = -s (1 - s) / (s + eps) directly. ``labels=None``: no positives (the
    background term). Same values as the plain formula (the forward is the same operations).
    """

    @staticmethod
    def forward(ctx: Any, z: Tensor, labels: Optional[Tensor], weight: float) -> Tensor:
        s = torch.sigmoid(z)
        log_neg = torch.sub(1.0, s).add_(BCE_EPS).log_()          # log(1 - s + eps), (N, Q)
        rows = None
        if labels is not None:
            rows = torch.arange(z.shape[0], device=z.device)
            log_neg[rows, labels] = weight * torch.log(s[rows, labels] + BCE_EPS)
        ctx.save_for_backward(s, labels if labels is not None else s.new_empty(0, dtype=torch.long))
        ctx.has_labels, ctx.weight = labels is not None, weight
        return log_neg.mean().neg()

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Optional[Tensor], None, None]:
        s, labels = ctx.saved_tensors
        one_minus = torch.sub(1.0, s)
        grad = s * one_minus
        if ctx.has_labels:
            rows = torch.arange(s.shape[0], device=s.device)
            s_pos = s[rows, labels]
            pos_grad = -ctx.weight * grad[rows, labels] / (s_pos + BCE_EPS)
        grad.div_(one_minus.add_(BCE_EPS))
        if ctx.has_labels:
            grad[rows, labels] = pos_grad
        return grad.mul_(grad_out / s.numel()), None, None


def presence_absence_loss(
    logits_pos: Tensor,
    logits_neg: Optional[Tensor],
    labels: Tensor,
    pos_weight: Optional[float] = None,
    rand_sample_weight: float = 1.0,
) -> LossTerms:
    """geo_prior's "full" presence-absence loss used for CSP fine-tuning (csp-spec.md section 3.2).

    With p = s(logits_pos) (N, Q) and Q classes:

        loss = mean over N*Q of [ -log(1 - p_ic + 1e-5) for c != y_i ;
                                  pos_weight * -log(p_iy + 1e-5) for c = y_i ]
             + rand_sample_weight * mean over N*Q of -log(1 - s(logits_neg) + 1e-5)

    Args:
        logits_pos: (N, Q) class logits e(x_i) . T_c at the observed locations.
        logits_neg: (N, Q) logits at one random location per example, or None.
        labels: (N,) int64 class indices in [0, Q).
        pos_weight: weight of the positive term; default Q (geo_prior/CSP).
        rand_sample_weight: weight of the random-location background term.

    Returns:
        ``LossTerms(total, b=observed-location term, l=background term, d=0)``.
    """
    if logits_pos.ndim != 2 or labels.shape != logits_pos.shape[:1]:
        raise ValueError(f"expected logits (N, Q) and labels (N,), got {tuple(logits_pos.shape)} and "
                         f"{tuple(labels.shape)}")
    n, q = logits_pos.shape
    weight = float(q if pos_weight is None else pos_weight)
    labels = labels.to(device=logits_pos.device, dtype=torch.long)
    loss_obs = _PresenceAbsenceMean.apply(logits_pos, labels, weight)
    loss_bg = loss_obs.new_zeros(())
    if logits_neg is not None:
        if logits_neg.shape != logits_pos.shape:
            raise ValueError(f"logits_neg {tuple(logits_neg.shape)} must match logits_pos {(n, q)}")
        loss_bg = _PresenceAbsenceMean.apply(logits_neg, None, 0.0)
    total = loss_obs + float(rand_sample_weight) * loss_bg
    return LossTerms(total, loss_obs, loss_bg, loss_obs.new_zeros(()))
