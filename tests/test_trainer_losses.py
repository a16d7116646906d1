"""Trainer losses against values computed here with plain Python math loops from csp-spec.md."""

import math

import pytest
import torch

from geoloc_embed.trainer.losses import (
    mc_loss,
    mse_loss,
    nce_loss,
    presence_absence_loss,
)


def _norm(row):
    s = math.sqrt(sum(x * x for x in row))
    return [x / s for x in row]


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b, strict=False))


def _ce(logits, target):
    m = max(logits)
    return -(logits[target] - m - math.log(sum(math.exp(z - m) for z in logits)))


def _sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def _nl(p):
    return -math.log(p + 1e-5)


@pytest.fixture
def tiny():
    g = torch.Generator().manual_seed(3)
    n, c, d = 3, 2, 4
    u = torch.randn(n, d, generator=g, dtype=torch.float64)
    u2 = torch.randn(n, d, generator=g, dtype=torch.float64)
    v = torch.randn(n, d, generator=g, dtype=torch.float64)
    neg = torch.randn(n, c, d, generator=g, dtype=torch.float64)
    return u, u2, v, neg


def _mc_reference(u, u2, v, neg, taus, weights, symmetric=False):
    U = [_norm(r) for r in u.tolist()]
    U2 = [_norm(r) for r in u2.tolist()]
    V = [_norm(r) for r in v.tolist()]
    NEG = [[_norm(r) for r in rows] for rows in neg.tolist()]
    n = len(U)
    b = sum(_ce([_dot(U[i], V[j]) / taus[0] for j in range(n)], i) for i in range(n)) / n
    if symmetric:
        b += sum(_ce([_dot(V[i], U[j]) / taus[0] for j in range(n)], i) for i in range(n)) / n
    l_term = sum(_ce([_dot(U[i], V[i]) / taus[1]] + [_dot(x, V[i]) / taus[1] for x in NEG[i]], 0)
                 for i in range(n)) / n
    d = sum(_ce([_dot(U[i], U2[j]) / taus[2] for j in range(n)], i) for i in range(n)) / n
    return b + weights[0] * l_term + weights[1] * d, b, l_term, d


@pytest.mark.parametrize("taus,weights,symmetric", [((1.0, 1.0, 1.0), (1.0, 1.0), False),
                                                    ((20.0, 1.0, 0.5), (1.0, 0.1), False),
                                                    ((0.07, 2.0, 3.0), (0.5, 2.0), True)])
def test_mc_loss_matches_hand_computation(tiny, taus, weights, symmetric):
    u, u2, v, neg = tiny
    out = mc_loss(u, u2, v, neg, temperatures=taus, weights=weights, symmetric=symmetric)
    ref = _mc_reference(u, u2, v, neg, taus, weights, symmetric)
    for got, want in zip(out, ref, strict=False):
        assert float(got) == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_mc_loss_is_scale_invariant_and_skips_terms(tiny):
    u, u2, v, neg = tiny
    a = mc_loss(u, u2, v, neg)
    b = mc_loss(3 * u, 0.5 * u2, 7 * v, 2 * neg)  # inputs are unnormalised
    assert torch.allclose(a.total, b.total)
    only_b = mc_loss(u, None, v, None, weights=(1.0, 1.0))
    assert float(only_b.total) == pytest.approx(float(a.b))
    assert float(only_b.l) == 0.0 and float(only_b.d) == 0.0


def test_mc_negative_layout_follows_authors_rows(tiny):
    """neg_u[i, c] is the authors' row c*N + i of the (N*C, d) block."""
    u, u2, v, neg = tiny
    n, c, d = neg.shape
    block = neg.permute(1, 0, 2).reshape(c * n, d)  # authors' layout
    assert torch.equal(block.reshape(c, n, d).permute(1, 0, 2), neg)
    for i in range(n):
        for cc in range(c):
            assert torch.equal(block[cc * n + i], neg[i, cc])


def test_mc_gathered_offset_equals_full_batch(tiny):
    """Rank-local rows against gathered columns give the same mean as the full batch."""
    u, u2, v, neg = tiny
    full = mc_loss(u, u2, v, neg, temperatures=(2.0, 1.0, 0.5), symmetric=True)
    parts = []
    for lo, hi in ((0, 1), (1, 3)):
        part = mc_loss(u[lo:hi], u2, v, neg[lo:hi], temperatures=(2.0, 1.0, 0.5), symmetric=True,
                       offset=lo, u_all=u)
        parts.append(part.total * (hi - lo))
    assert float(sum(parts) / 3) == pytest.approx(float(full.total), rel=1e-12)


def test_nce_loss_matches_hand_computation(tiny):
    u, u2, v, neg = tiny
    weights = (0.7, 1.3)
    U = [_norm(r) for r in u.tolist()]
    U2 = [_norm(r) for r in u2.tolist()]
    V = [_norm(r) for r in v.tolist()]
    NEG = [[_norm(r) for r in rows] for rows in neg.tolist()]
    n = len(U)

    def pair_term(A, B):
        total = 0.0
        for i in range(n):
            # the authors' form: (N-1) x positive on the diagonal, row sum, divided by N-1
            row = [(n - 1) * _nl(_sig(_dot(A[i], B[i]))) if j == i else _nl(1 - _sig(_dot(A[i], B[j])))
                   for j in range(n)]
            total += sum(row) / (n - 1)
        return total / n

    b = pair_term(U, V)
    d = pair_term(U, U2)
    l_term = sum(_nl(1 - _sig(_dot(x, V[i]))) for i in range(n) for x in NEG[i]) / (n * len(NEG[0]))
    out = nce_loss(u, u2, v, neg, weights=weights)
    assert float(out.b) == pytest.approx(b, rel=1e-10)
    assert float(out.l) == pytest.approx(l_term, rel=1e-10)
    assert float(out.d) == pytest.approx(d, rel=1e-10)
    assert float(out.total) == pytest.approx(b + weights[0] * l_term + weights[1] * d, rel=1e-10)


def test_mse_loss():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 2.0], [5.0, 1.0]], dtype=torch.float64)
    assert float(mse_loss(a, b).total) == pytest.approx((1 + 0 + 4 + 9) / 4)


@pytest.mark.parametrize("pos_weight,rsw", [(None, 1.0), (2.5, 0.3)])
def test_presence_absence_loss_matches_hand_computation(pos_weight, rsw):
    g = torch.Generator().manual_seed(1)
    n, q = 4, 5
    lp = torch.randn(n, q, generator=g, dtype=torch.float64) * 2
    ln = torch.randn(n, q, generator=g, dtype=torch.float64) * 2
    labels = torch.tensor([0, 3, 3, 4])
    w = q if pos_weight is None else pos_weight
    obs = 0.0
    bg = 0.0
    for i in range(n):
        for c in range(q):
            p = _sig(float(lp[i, c]))
            obs += w * _nl(p) if c == int(labels[i]) else _nl(1 - p)
            bg += _nl(1 - _sig(float(ln[i, c])))
    obs /= n * q
    bg /= n * q
    out = presence_absence_loss(lp, ln, labels, pos_weight=pos_weight, rand_sample_weight=rsw)
    assert float(out.b) == pytest.approx(obs, rel=1e-10)
    assert float(out.l) == pytest.approx(bg, rel=1e-10)
    assert float(out.total) == pytest.approx(obs + rsw * bg, rel=1e-10)


def test_losses_backpropagate():
    u = torch.randn(6, 8, requires_grad=True)
    v = torch.randn(6, 8, requires_grad=True)
    out = mc_loss(u, u * 1.1, v, torch.randn(6, 2, 8))
    out.total.backward()
    assert u.grad is not None and torch.isfinite(u.grad).all() and v.grad.abs().sum() > 0


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        mc_loss(torch.randn(3, 4), None, torch.randn(3, 5), None)
    with pytest.raises(ValueError):
        mc_loss(torch.randn(3, 4), None, torch.randn(3, 4), torch.randn(2, 1, 4))
    with pytest.raises(ValueError):
        presence_absence_loss(torch.randn(3, 4), None, torch.zeros(2, dtype=torch.long))


def _presence_absence_plain(lp, ln, labels, w, rsw):
    """The formula written with plain autograd ops (what presence_absence_loss computed before its fused node)."""
    p = torch.sigmoid(lp)
    onehot = torch.zeros_like(p, dtype=torch.bool).scatter_(1, labels[:, None], True)
    obs = torch.where(onehot, w * -torch.log(p + 1e-5), -torch.log(1.0 - p + 1e-5)).mean()
    bg = (-torch.log(1.0 - torch.sigmoid(ln) + 1e-5)).mean()
    return obs + rsw * bg


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_presence_absence_gradients_match_the_plain_formula(dtype):
    g = torch.Generator().manual_seed(7)
    n, q = 37, 11
    lp = (torch.randn(n, q, generator=g, dtype=dtype) * 4)
    lp[0, :3] = torch.tensor([40.0, -40.0, 0.0], dtype=dtype)   # saturated sigmoids
    ln = torch.randn(n, q, generator=g, dtype=dtype) * 4
    labels = torch.randint(0, q, (n,), generator=g)
    labels[0] = 0
    a, b = lp.clone().requires_grad_(), ln.clone().requires_grad_()
    got = presence_absence_loss(a, b, labels, pos_weight=None, rand_sample_weight=0.7).total
    got.backward()
    c, d = lp.clone().requires_grad_(), ln.clone().requires_grad_()
    want = _presence_absence_plain(c, d, labels, float(q), 0.7)
    want.backward()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert float(got) == pytest.approx(float(want), rel=tol)
    assert torch.allclose(a.grad, c.grad, rtol=tol, atol=tol * 1e-3)
    assert torch.allclose(b.grad, d.grad, rtol=tol, atol=tol * 1e-3)
    if dtype == torch.float64:
        small = (lp[:5, :4].clone().requires_grad_(), ln[:5, :4].clone().requires_grad_())
        assert torch.autograd.gradcheck(
            lambda x, y: presence_absence_loss(x, y, labels[:5] % 4, pos_weight=2.5).total, small)
