"""The csp-geofields recipe (recipes/geofields): patch geometry, features, whitening, diagnostics, loop."""

import math

import numpy as np
import pytest
import torch

from recipes.geofields.data import position_descriptor
from recipes.geofields.diagnostics import effective_rank, uniform_points, voronoi_labels
from recipes.geofields.patches import RandomConvFeatures, coarsen, extract_patches, patch_indices
from recipes.geofields.pretrain import jitter, pretrain_mc
from recipes.geofields.whitening import whiten_output_layer, whitening_transform

H, W = 72, 144  # a 2.5-degree test grid


def _index_grid(h=H, w=W):
    """(2, h, w) grid whose cells hold their own (row, col): patches show where they came from."""
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([r, c]).astype(np.float32)


def test_patch_is_a_plain_window_inside_the_map():
    p = extract_patches(_index_grid(), np.array([[10.0, 20.0]]), 6)[0]
    assert p.shape == (2, 6, 6)
    row = (90 - 20) / 2.5
    col = (10 + 180) / 2.5
    assert abs(p[0, 3, 3] - row) <= 1 and abs(p[1, 3, 3] - col) <= 1
    assert np.all(np.diff(p[0], axis=0) == 1) and np.all(np.diff(p[1], axis=1) == 1)


@pytest.mark.parametrize("lon", [179.9, -179.9, 180.0, -180.0])
def test_patch_wraps_across_the_antimeridian(lon):
    cols = extract_patches(_index_grid(), np.array([[lon, 0.0]]), 8)[0, 1, 0]
    assert cols.min() == 0 and cols.max() == W - 1
    assert np.all(np.mod(np.diff(cols), W) == 1)  # one step right is one column, modulo W


@pytest.mark.parametrize("lat", [90.0, 89.0, -90.0, -89.0])
def test_patch_reflects_over_the_pole(lat):
    p = extract_patches(_index_grid(), np.array([[30.0, lat]]), 8)[0]
    rows, cols = p[0].astype(int), p[1].astype(int)
    assert rows.min() >= 0 and rows.max() < H
    assert len(np.unique(rows * W + cols)) == rows.size  # reflected, not clamped: no cell twice
    c0 = (30.0 + 180.0) / 2.5
    far = np.abs(np.mod(cols - c0 + W / 2, W) - W / 2) > W / 4  # cells from the other side of the pole
    assert far.any() and (~far).any()


def test_patch_indices_vectorised_equals_one_by_one():
    ll = np.array([[-180.0, 90.0], [179.99, -89.99], [0.0, 0.0], [-45.5, 60.25]])
    r, c = patch_indices(ll, 5, H, W)
    for i in range(len(ll)):
        ri, ci = patch_indices(ll[i:i + 1], 5, H, W)
        np.testing.assert_array_equal(r[i], ri[0])
        np.testing.assert_array_equal(c[i], ci[0])


def test_coarsen_is_block_mean():
    g = np.arange(2 * 4 * 8, dtype=np.float64).reshape(2, 4, 8)
    out = coarsen(g, 2)
    assert out.shape == (2, 2, 4)
    assert out[1, 1, 2] == np.mean(g[1, 2:4, 4:6])
    with pytest.raises(ValueError, match="divisible"):
        coarsen(g, 3)


def test_random_conv_features_are_deterministic_and_two_signed():
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(3, H, W)).astype(np.float32)
    a = RandomConvFeatures(grid, 6, seed=1)
    b = RandomConvFeatures(grid, 6, seed=1)
    assert torch.equal(a.weight, b.weight)
    p = torch.from_numpy(extract_patches(grid, uniform_points(5, 0), 7))
    f = a(p)
    assert f.shape == (5, 12) and bool((f >= 0).all())
    # the negative half is the positive half of the negated input
    np.testing.assert_allclose(a(-p)[:, :6].numpy(), f[:, 6:].numpy(), atol=1e-5)


def test_position_descriptor_is_orthonormal_sh_without_the_constant():
    assert position_descriptor(np.zeros((3, 2)), 1).shape == (3, 0)
    ll = uniform_points(200_000, seed=3)
    y = position_descriptor(ll, 4).double().numpy()
    assert y.shape == (200_000, 15)
    gram = y.T @ y / len(y) * 4 * math.pi  # Monte-Carlo integral over the sphere
    np.testing.assert_allclose(gram, np.eye(15), atol=0.03)
    # degree 1 is (up to order and sign) the unit vector: sqrt(3 / 4 pi) * (y, z, x)
    lon, lat = np.radians(ll[:3, 0]), np.radians(ll[:3, 1])
    xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1)
    np.testing.assert_allclose(np.sort(np.abs(y[:3, :3]), 1), np.sort(np.abs(xyz), 1) * math.sqrt(3 / (4 * math.pi)),
                               atol=1e-6)


def test_effective_rank_by_hand():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 5))
    u, _ = np.linalg.qr(x - x.mean(0))  # orthonormal, centred columns
    rot, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    # five equal singular values, rotated into 50 dimensions and shifted: rank 5 after centring
    assert effective_rank(u @ rot[:5] + 3.0) == pytest.approx(5.0, rel=1e-6)
    # singular values 2 and 1: p = (4/5, 1/5), exp(H) = exp(-(0.8 ln 0.8 + 0.2 ln 0.2)) = 1.6494...
    assert effective_rank(u[:, :2] * np.array([2.0, 1.0])) == pytest.approx(1.6494, abs=1e-4)


def test_voronoi_sites_label_themselves():
    sites = uniform_points(17, seed=10_000 + 4)
    np.testing.assert_array_equal(voronoi_labels(sites, 17, seed=4), np.arange(17))


def test_jitter_stays_on_the_sphere_and_has_the_requested_spread():
    ll = torch.from_numpy(uniform_points(20_000, seed=1))
    g = torch.Generator().manual_seed(0)
    assert torch.equal(jitter(ll, 0.0, g), ll)
    moved = jitter(ll, 1.0, g)
    assert moved[:, 0].abs().max() <= 180 and moved[:, 1].abs().max() <= 90
    a, b = np.radians(ll.numpy()), np.radians(moved.numpy())
    cos_d = np.sin(a[:, 1]) * np.sin(b[:, 1]) + np.cos(a[:, 1]) * np.cos(b[:, 1]) * np.cos(a[:, 0] - b[:, 0])
    d = np.degrees(np.arccos(np.clip(cos_d, -1, 1)))
    # in the tangent plane the step is 2-D Gaussian with sigma 1 deg per axis: mean distance sigma * sqrt(pi / 2)
    assert d.mean() == pytest.approx(math.sqrt(math.pi / 2), rel=0.03)


def _tiny_config():
    from geoloc_embed.config import LocationEncoderConfig, SirenConfig, SphericalHarmonicsConfig

    return LocationEncoderConfig(position_encoder=SphericalHarmonicsConfig(sh_degree=4),
                                 network=SirenConfig(hidden_dim=16, num_hidden_layers=2, embed_dim=8, dropout=0.1,
                                                     siren_w0_initial=3.0))


def test_whitening_is_folded_exactly_into_the_last_layer():
    from geoloc_embed.encoders.model import LocationEncoder

    torch.manual_seed(0)
    enc = LocationEncoder(_tiny_config()).eval()
    pts = uniform_points(3000, seed=5)
    before = enc.encode(pts).astype(np.float64)
    t, mu = whitening_transform(before, 0.5)
    whiten_output_layer(enc, pts, 0.5)
    after = enc.encode(pts).astype(np.float64)
    np.testing.assert_allclose(after, (before - mu) @ t.T, atol=1e-4)
    ev_before = np.linalg.eigvalsh(np.cov(before.T))
    ev_after = np.linalg.eigvalsh(np.cov(after.T))
    # alpha 0.5: the eigenvalues become (a multiple of) their square roots, the total variance is kept
    np.testing.assert_allclose(ev_after, np.sqrt(ev_before) * ev_before.sum() / np.sqrt(ev_before).sum(), rtol=1e-3)
    assert ev_after.sum() == pytest.approx(ev_before.sum(), rel=1e-4)
    with pytest.raises(ValueError, match="alpha"):
        whitening_transform(before, 1.5)


def test_pretrain_loop_is_deterministic_and_learns():
    pts = uniform_points(512, seed=0)
    ll = torch.from_numpy(pts).float()
    feats = torch.from_numpy(np.concatenate([np.sin(np.radians(pts)), np.cos(np.radians(pts))], 1)).float()
    kw = dict(epochs=3, batch_size=128, lr=3e-3, temperatures=(0.3, 0.3, 0.3), weights=(1.0, 0.1), jitter_deg=1.0,
              warmup_steps=2, seed=0)
    enc, _, hist = pretrain_mc(ll, feats, _tiny_config(), **kw)
    enc2, _, hist2 = pretrain_mc(ll, feats, _tiny_config(), **kw)
    assert [dict(h, seconds=0) for h in hist] == [dict(h, seconds=0) for h in hist2]
    for a, b in zip(enc.state_dict().values(), enc2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert hist[-1]["loss_b"] < min(hist[0]["loss_b"], math.log(128))  # learns beyond chance
    assert not enc.training and hist[-1]["effective_rank"] > 1


@pytest.fixture(scope="module")
def stack():
    from recipes.geofields.fields import load_fields

    try:
        return load_fields()
    except (FileNotFoundError, ImportError) as exc:
        pytest.skip(f"pre-training data not installed: {exc}")


def _at(stack, name, lon, lat):
    r, c = int((90 - lat) / 0.25), int((lon + 180) / 0.25)
    return float(stack.data[stack.names.index(name), r, c])


def test_field_stack_has_the_earth_in_the_right_place(stack):
    from recipes.geofields.fields import GRID_H, GRID_W, GROUPS

    assert stack.data.shape == (len(stack.names), GRID_H, GRID_W)
    assert list(dict.fromkeys(stack.groups)) == list(GROUPS)
    assert _at(stack, "ocean_depth_km", 142.2, 11.35) > 8.0          # Mariana Trench
    assert _at(stack, "elevation_km", 86.92, 27.99) > 4.5            # Everest (0.25-degree mean)
    assert _at(stack, "elevation_km", -150.0, 0.0) == 0.0            # mid-Pacific
    assert _at(stack, "igbp_00", -150.0, 0.0) == 1.0                 # water
    assert _at(stack, "igbp_16", 10.0, 23.0) > 0.5                   # Sahara: barren
    assert _at(stack, "coads_sst", -150.0, 0.0) > 25.0               # warm pool
    assert math.isnan(_at(stack, "levitus_t0m", 10.0, 23.0))         # no ocean temperature on land
    assert _at(stack, "bm_blue", -150.0, 0.0) > _at(stack, "bm_red", -150.0, 0.0)
    # the antimeridian column pair is continuous (Fiji's sea on both sides)
    assert abs(_at(stack, "coads_sst", 179.9, -17.0) - _at(stack, "coads_sst", -179.9, -17.0)) < 1.0
    assert stack.select(["ocean"]).names == [n for n in stack.names if n.startswith("levitus")]
    with pytest.raises(ValueError, match="unknown field group"):
        stack.select(["nightlights"])


def test_land_points_are_on_land(stack):
    from recipes.geofields.data import cell_values, sample_points

    a = sample_points(4000, 0.5, seed=2)
    np.testing.assert_array_equal(a, sample_points(4000, 0.5, seed=2))
    water = cell_values(stack.data[[stack.names.index("igbp_00")]], a)[:, 0]
    land_share = np.mean(water < 0.5)
    assert 0.5 + 0.5 * 0.25 < land_share < 0.5 + 0.5 * 0.35  # half on land + ~29 % of the uniform half


@pytest.mark.slow
def test_quick_recipe_end_to_end(tmp_path, stack):
    """``python -m recipes.geofields --quick`` (from the repository root): the whole recipe on a few thousand points."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    out = tmp_path / "quick"
    result = subprocess.run([sys.executable, "-m", "recipes.geofields", "--quick",
                             "--threads", "1", "--out", str(out)],
                            capture_output=True, text=True, timeout=600, env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    assert '"final_loss"' in result.stdout
    from geoloc_embed import LocationEncoder

    enc = LocationEncoder.from_pretrained(str(out))
    assert enc.config.position_encoder.family == "spherical-harmonics"
    assert np.isfinite(enc.encode([[0.0, 0.0], [179.9, 89.9]])).all()


def test_heldout_reconstruction_and_partition_proxies():
    from recipes.geofields.diagnostics import heldout_partition_accuracy, heldout_reconstruction

    ll = uniform_points(3000, seed=8)
    basis = position_descriptor(ll, 6).double().numpy()  # smooth features: degrees 1..5
    target = basis[:, [3]] * 2.0 - basis[:, [10]]          # exactly linear in them
    noise = np.random.default_rng(0).normal(size=(3000, 1))
    masked = target.copy()
    masked[ll[:, 1] > 45] = np.nan                         # undefined in the north: left out, not failed
    r2 = heldout_reconstruction(lambda x: position_descriptor(x, 6).numpy(), ll, np.hstack([target, noise, masked]))
    assert r2[0] > 0.999 and r2[2] > 0.999 and r2[1] < 0.05
    rand = heldout_partition_accuracy(lambda x: np.random.default_rng(1).normal(size=(len(x), 35)), ll, num_cells=(8,))
    smooth = heldout_partition_accuracy(lambda x: position_descriptor(x, 6).numpy(), ll, num_cells=(8,))
    assert smooth[0] > 0.8 and rand[0] < 0.3  # a smooth basis recovers 8 big cells; noise cannot (chance 1/8)


def test_lpft_head_is_the_probe_with_its_standardisation_folded_in():
    from torch import nn

    from recipes.geofields.fewshot import _folded_head

    torch.manual_seed(0)
    probe = nn.Linear(6, 3)
    probe.register_buffer("mu", torch.randn(6))
    probe.register_buffer("sd", torch.rand(6) + 0.5)
    e = torch.randn(10, 6)
    expected = probe((e - probe.mu) / probe.sd)
    torch.testing.assert_close(_folded_head(probe)(e), expected, rtol=1e-5, atol=1e-5)


def test_fewshot_methods_on_a_hemisphere_task():
    """A task any smooth embedding separates linearly (north vs south): every method runs, the
    frozen probe and LP-FT learn it, and unknown methods are refused."""
    from geoloc_embed.encoders.model import LocationEncoder
    from recipes.geofields.fewshot import METHODS, format_table, run_fewshot

    torch.manual_seed(0)
    enc = LocationEncoder(_tiny_config()).eval()
    ll = uniform_points(1500, seed=3)
    labels = (ll[:, 1] > 0).astype(np.int64)
    rows = run_fewshot(enc, "hemisphere", fractions=(0.2,), seeds=(0,), steps=60, points=(ll, labels), log=None)
    assert [r["method"] for r in rows] == list(METHODS)
    acc = {r["method"]: r["acc"] for r in rows}
    assert acc["csp-linear"] > 0.9 and acc["csp-lpft"] > 0.9, acc
    assert "csp-lpft" in format_table(rows)
    with pytest.raises(ValueError, match="unknown method"):
        run_fewshot(enc, "hemisphere", fractions=(0.2,), seeds=(0,), steps=1, points=(ll, labels), methods=["nope"],
                    log=None)


def test_coarse_land_partition_separates_a_smooth_basis_from_noise(stack):
    from recipes.geofields.diagnostics import coarse_land_partition

    def smooth(x):
        return position_descriptor(x, 5).numpy()

    def noise(x):
        return np.random.default_rng(3).normal(size=(len(x), 24))

    good = coarse_land_partition(smooth, num_points=1500, num_cells=6, seeds=(0,))
    bad = coarse_land_partition(noise, num_points=1500, num_cells=6, seeds=(0,))
    assert set(good) == {"linear", "mlp"}
    assert good["linear"] > 0.8 and good["mlp"] > 0.8, good  # 6 big cells are smooth in position
    assert bad["linear"] < 0.45 and bad["mlp"] < 0.45, bad   # chance is about 1/6 to 1/3 (unequal land shares)
