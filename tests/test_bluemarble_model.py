"""The bundled csp-bluemarble weights: offline load, declared architecture, finite and sensible embeddings."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from geoloc_embed import LocationEncoder

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "csp-bluemarble"

pytestmark = pytest.mark.skipif(not (WEIGHTS / "model.safetensors").is_file(),
                                reason="weights/csp-bluemarble not present in this checkout")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("GEOLOC_EMBED_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        yield LocationEncoder.from_pretrained(str(WEIGHTS))
    finally:
        mp.undo()


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_files_small_and_card_present():
    files = {p.name for p in WEIGHTS.iterdir()}
    assert {"model.safetensors", "config.json", "README.md"} <= files
    assert (WEIGHTS / "model.safetensors").stat().st_size < 5_000_000
    card = (WEIGHTS / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "license: cc-by-4.0" in card
    for needle in ("Blue Marble", "GeoNames", "CSP"):
        assert needle in card


def test_declared_architecture(model):
    pe, net = model.config.position_encoder, model.config.network
    assert (pe.family, pe.frequency_num, pe.min_radius, pe.max_radius) == ("grid", 32, 0.1, 360.0)
    assert (net.name, net.hidden_dim, net.num_hidden_layers, net.embed_dim) == ("csp-ffn", 512, 1, 256)
    assert (net.activation, net.dropout, net.use_layernorm, net.skip_connection) == ("gelu", 0.5, True, True)
    assert model.config.num_classes == 0 and model.class_head is None
    assert model.num_parameters() == 198_400
    assert not model.training
    on_disk = json.loads((WEIGHTS / "config.json").read_text())  # format 1, kept as shipped
    assert on_disk["position_encoder"] == "grid" and on_disk["format_version"] == 1


def test_finite_embeddings_everywhere(model):
    pts = np.array([[0, 0], [180, 90], [-180, -90], [179.99, 0.0], [-179.99, 0.0], [2.35, 48.86],
                    [-74.0, 40.7], [151.2, -33.9]], dtype=np.float64)
    rng = np.random.default_rng(0)
    pts = np.concatenate([pts, np.stack([rng.uniform(-180, 180, 2000), rng.uniform(-90, 90, 2000)], 1)])
    emb = model.encode(pts, order="lonlat")
    assert emb.shape == (len(pts), 256) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    assert emb.std(axis=0).max() > 0  # not a constant map
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(pts[:50]).float()).numpy(), emb[:50], rtol=1e-5, atol=1e-5)


def test_nearby_more_similar_than_antipodal(model):
    rng = np.random.default_rng(1)
    n = 2000
    lon = rng.uniform(-170, 170, n)
    lat = np.degrees(np.arcsin(rng.uniform(-0.95, 0.95, n)))
    a = np.stack([lon, lat], 1)
    near = np.stack([lon + rng.normal(0, 0.5, n), np.clip(lat + rng.normal(0, 0.5, n), -90, 90)], 1)
    anti = np.stack([np.where(lon > 0, lon - 180, lon + 180), -lat], 1)
    ea, en, ex = (_unit(model.encode(x)) for x in (a, near, anti))
    sim_near = (ea * en).sum(1)
    sim_anti = (ea * ex).sum(1)
    assert sim_near.mean() > sim_anti.mean() + 0.1
    assert np.mean(sim_near > sim_anti) > 0.9


def test_similarity_decays_with_distance(model):
    rng = np.random.default_rng(2)
    n = 1500
    base = np.stack([rng.uniform(-150, 150, n), rng.uniform(-60, 60, n)], 1)
    e0 = _unit(model.encode(base))
    means = []
    for d in (0.5, 5.0, 30.0):
        theta = rng.uniform(0, 2 * np.pi, n)
        other = base + d * np.stack([np.cos(theta), np.sin(theta)], 1)
        means.append(float((e0 * _unit(model.encode(other))).sum(1).mean()))
    assert means[0] > means[1] > means[2]


def test_registry_entry_matches_shipped_file(monkeypatch):
    import geoloc_embed as ge

    if "csp-bluemarble" not in ge.list_pretrained():
        pytest.skip("csp-bluemarble is not registered yet")
    spec = ge.get_pretrained_spec("csp-bluemarble")
    digest = hashlib.sha256((WEIGHTS / "model.safetensors").read_bytes()).hexdigest()
    assert spec.sha256 == digest
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = ge.LocationEncoder.from_pretrained("csp-bluemarble")
    assert enc.config == LocationEncoder.from_pretrained(str(WEIGHTS)).config
