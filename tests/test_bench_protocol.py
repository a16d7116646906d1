"""Benchmark protocol: splits, probes, metrics (no data packages needed)."""

import numpy as np
import pytest
import torch

from geoloc_embed.bench.data import sample_uniform_sphere
from geoloc_embed.bench.probes import (
    Standardizer,
    accuracy,
    fit_linear_probe,
    fit_mlp_probe,
    macro_f1,
    r2_score,
    rmse,
)
from geoloc_embed.bench.splits import blocked_split, equal_area_block_ids, random_split


@pytest.fixture(autouse=True)
def _one_thread():
    """The runner fits probes with one torch thread (BenchConfig.threads); do the same here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------- splits
def test_sphere_sampler_is_uniform_and_deterministic():
    a = sample_uniform_sphere(50000, seed=1)
    assert np.array_equal(a, sample_uniform_sphere(50000, seed=1))
    assert a[:, 0].min() >= -180 and a[:, 0].max() < 180 and np.abs(a[:, 1]).max() <= 90
    # uniform on the sphere: sin(lat) is uniform, so half the points lie within 30 degrees of the equator
    assert abs(np.mean(np.abs(a[:, 1]) < 30) - 0.5) < 0.01


def test_blocks_have_equal_area():
    pts = sample_uniform_sphere(200000, seed=0)
    ids = equal_area_block_ids(pts, 10.0)
    counts = np.bincount(ids, minlength=36 * 11)
    assert counts.size == 36 * 11
    expected = len(pts) / counts.size
    assert np.all(np.abs(counts - expected) < 0.25 * expected)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_blocked_split_holds_out_whole_blocks(seed):
    pts = sample_uniform_sphere(5000, seed=seed)
    split = blocked_split(pts, seed, block_deg=10.0)
    tr, va, te = split["train"], split["val"], split["test"]
    assert np.array_equal(np.sort(np.concatenate([tr, va, te])), np.arange(len(pts)))
    blocks = equal_area_block_ids(pts, 10.0)
    assert not set(blocks[tr]) & set(blocks[te])
    assert not set(blocks[tr]) & set(blocks[va])
    assert not set(blocks[va]) & set(blocks[te])
    assert 0.18 < len(te) / len(pts) < 0.26 and 0.18 < len(va) / len(pts) < 0.26
    again = blocked_split(pts, seed, block_deg=10.0)
    assert all(np.array_equal(split[k], again[k]) for k in ("train", "val", "test"))
    other = blocked_split(pts, seed + 100, block_deg=10.0)
    assert not np.array_equal(split["test"], other["test"])


def test_blocked_split_keeps_neighbours_apart():
    """A training point is never in the same block as a test point, including across the antimeridian."""
    pts = np.array([[179.9, 5.0], [-179.9, 5.0], [179.0, 4.0]])
    ids = equal_area_block_ids(pts, 10.0)
    assert ids[0] == ids[2] and ids[0] != ids[1]  # the seam splits blocks, it never merges far ones


def test_random_split():
    split = random_split(1000, seed=0)
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == (600, 200, 200)
    assert np.array_equal(np.sort(np.concatenate(list(split.values()))), np.arange(1000))


# ------------------------------------------------------------------------- metrics
def test_metrics_by_hand():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 0])
    assert accuracy(y, p) == pytest.approx(0.6)
    # F1: class 0 = 2*1/(2+2) = 0.5, class 1 = 2*2/(2+3) = 0.8, class 2 = 0
    assert macro_f1(y, p) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert macro_f1(np.array([3, 3]), np.array([3, 3])) == 1.0
    t = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_score(t, t) == 1.0 and r2_score(t, np.full(4, t.mean())) == 0.0
    assert rmse(t, t + 2) == pytest.approx(2.0)


def test_standardizer_constant_feature():
    x = np.column_stack([np.arange(10.0), np.full(10, 5.0)])
    z = Standardizer(x)(x)
    assert np.allclose(z[:, 0].mean(), 0, atol=1e-6) and np.allclose(z[:, 0].std(), 1, atol=1e-5)
    assert np.all(z[:, 1] == 0)


# ------------------------------------------------------------------------- probes
def _data(seed, n=900, d=16):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d) + rng.normal(size=d) * 5
    return x, rng


def _folds(n):
    return slice(0, int(0.6 * n)), slice(int(0.6 * n), int(0.8 * n)), slice(int(0.8 * n), n)


@pytest.mark.parametrize("probe", ["linear", "mlp"])
def test_probes_recover_planted_regression_signal(probe):
    x, rng = _data(0)
    z = Standardizer(x)(x)
    y_signal = z[:, :4] @ np.array([3.0, -2.0, 1.0, 0.5]) + 0.1 * rng.normal(size=len(x)) + 100.0
    y_noise = rng.normal(size=len(x))
    tr, va, te = _folds(len(x))
    fit = fit_linear_probe if probe == "linear" else fit_mlp_probe
    p = fit("regression", x[tr], y_signal[tr], x[va], y_signal[va], seed=0)
    assert r2_score(y_signal[te], p.predict(x[te])) > (0.99 if probe == "linear" else 0.9)
    q = fit("regression", x[tr], y_noise[tr], x[va], y_noise[va], seed=0)
    assert r2_score(y_noise[te], q.predict(x[te])) < 0.05


@pytest.mark.parametrize("probe", ["linear", "mlp"])
def test_probes_recover_planted_classes(probe):
    x, rng = _data(1)
    z = Standardizer(x)(x)
    y_signal = np.argmax(z[:, :3] * 2.0, axis=1) + 10  # labels need not start at 0
    y_noise = rng.integers(0, 3, size=len(x))
    tr, va, te = _folds(len(x))
    fit = fit_linear_probe if probe == "linear" else fit_mlp_probe
    p = fit("classification", x[tr], y_signal[tr], x[va], y_signal[va], seed=0)
    pred = p.predict(x[te])
    assert set(np.unique(pred)) <= {10, 11, 12}
    assert accuracy(y_signal[te], pred) > 0.85
    q = fit("classification", x[tr], y_noise[tr], x[va], y_noise[va], seed=0)
    assert accuracy(y_noise[te], q.predict(x[te])) < 0.45


def test_mlp_probe_deterministic_and_leaves_global_rng_alone():
    x, _ = _data(2, n=300)
    y = (x[:, 0] > x[:, 0].mean()).astype(int)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = fit_mlp_probe("classification", x[:200], y[:200], x[200:250], y[200:250], seed=5, max_epochs=5)
    assert torch.equal(state, torch.get_rng_state())
    b = fit_mlp_probe("classification", x[:200], y[:200], x[200:250], y[200:250], seed=5, max_epochs=5)
    assert np.array_equal(a.predict(x[250:]), b.predict(x[250:]))


def test_probe_with_unseen_test_class_and_single_class():
    x, _ = _data(3, n=200)
    y = np.zeros(200, dtype=int)
    y[150:] = 1  # class 1 only in validation/test
    for fit in (fit_linear_probe, fit_mlp_probe):
        p = fit("classification", x[:100], y[:100], x[100:150], y[100:150], seed=0)
        assert np.all(p.predict(x[150:]) == 0)
