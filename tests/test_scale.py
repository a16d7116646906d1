"""``encode`` at scale: writing into a preallocated ``np.memmap`` gives the in-memory result.

Timing and memory figures live in ``benchmarks/encode_scale.py``; nothing here asserts speed.
"""

import numpy as np
import pytest
import torch

import geoloc_embed as ge

N_POINTS = 200_003  # not a multiple of any batch or chunk size, so every tail is exercised


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    lon = rng.uniform(-180.0, 180.0, N_POINTS)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, N_POINTS)))
    pts = np.stack((lon, lat), axis=1)
    pts[:4] = [[-180.0, -90.0], [180.0, 90.0], [0.0, 0.0], [180.0, -90.0]]
    return pts


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = ge.LocationEncoderConfig(position_encoder="grid").replace(hidden_dim=64, embed_dim=32)
    return ge.LocationEncoder(config).eval()


def test_encode_into_memmap_equals_in_memory(model, points, tmp_path):
    expected = model.encode(points, order="lonlat", batch_size=50_000)
    assert expected.shape == (N_POINTS, 32) and expected.dtype == np.float32

    path = tmp_path / "embeddings.f32"
    out = np.memmap(path, dtype=np.float32, mode="w+", shape=(N_POINTS, model.embed_dim))
    returned = model.encode(points, order="lonlat", batch_size=50_000, out=out)
    assert returned is out
    out.flush()
    del out, returned

    reread = np.memmap(path, dtype=np.float32, mode="r", shape=(N_POINTS, model.embed_dim))
    np.testing.assert_array_equal(reread, expected)


def test_memmap_result_independent_of_batch_size(model, points, tmp_path):
    """Batches (and the cache-sized chunks inside them) change the numbers by float32 rounding at most.

    Not bit-exact: a different number of rows per matrix product can select a different GEMM kernel
    for the tail rows (measured: 1.5e-6 on 0.02 % of the entries).
    """
    subset = points[:70_001]
    expected = model.encode(subset, order="lonlat", batch_size=70_001)
    out = np.memmap(tmp_path / "b.f32", dtype=np.float32, mode="w+", shape=expected.shape)
    model.encode(subset, order="lonlat", batch_size=4_097, out=out)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
    with torch.no_grad():
        eager = model(torch.as_tensor(subset[:1000], dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out[:1000], eager, rtol=0, atol=1e-6)


def test_memmap_latlon_order(model, points, tmp_path):
    subset = points[:10_000]
    out = np.memmap(tmp_path / "c.f32", dtype=np.float32, mode="w+", shape=(10_000, model.embed_dim))
    model.encode(subset[:, ::-1], order="latlon", out=out)
    np.testing.assert_array_equal(out, model.encode(subset, order="lonlat"))


def test_memmap_wrong_shape_is_rejected(model, points, tmp_path):
    out = np.memmap(tmp_path / "d.f32", dtype=np.float32, mode="w+", shape=(100, model.embed_dim + 1))
    with pytest.raises(ValueError, match="out must have shape"):
        model.encode(points[:100], out=out)
