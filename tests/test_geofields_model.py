"""The bundled csp-geofields weights (the default model): offline load, declared architecture,
registry entry, effective rank, and continuity across the antimeridian and at the poles."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import geoloc_embed as ge
from geoloc_embed import LocationEncoder

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights" / "csp-geofields"
OLD = ROOT / "weights" / "csp-bluemarble"

pytestmark = pytest.mark.skipif(not (WEIGHTS / "model.safetensors").is_file(),
                                reason="weights/csp-geofields not present in this checkout")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("GEOLOC_EMBED_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        yield LocationEncoder.from_pretrained(str(WEIGHTS))
    finally:
        mp.undo()


def _uniform(n, seed):
    """Area-uniform points drawn here with numpy (independent of geoloc_embed.coords)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))], 1)


def test_files_small_and_card_present():
    files = {p.name for p in WEIGHTS.iterdir()}
    assert {"model.safetensors", "config.json", "README.md", "training_summary.json"} <= files
    total = sum(p.stat().st_size for p in WEIGHTS.iterdir())
    assert total < 5_000_000
    card = (WEIGHTS / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "license: cc-by-4.0" in card
    for needle in ("ETOPO5", "Levitus", "COADS", "MCD12C1", "Blue Marble", "Leakage", "Ablation", "Few-shot",
                   "effective rank"):
        assert needle.lower() in card.lower(), needle


def test_declared_architecture(model):
    pe, net = model.config.position_encoder, model.config.network
    assert (pe.family, pe.sh_degree) == ("spherical-harmonics", 20)
    assert (net.name, net.hidden_dim, net.num_hidden_layers, net.embed_dim) == ("siren", 352, 2, 512)
    assert model.config.num_classes == 0 and model.class_head is None
    # 400 harmonics -> 352 -> 352 -> 512, weights and biases
    assert model.num_parameters() == 400 * 352 + 352 + 352 * 352 + 352 + 352 * 512 + 512 == 446_144
    assert model.num_parameters() <= 470_000
    assert not model.training


def test_registry_entry_is_the_default_and_matches_the_shipped_file(monkeypatch):
    assert ge.DEFAULT_MODEL == "csp-geofields"
    spec = ge.get_pretrained_spec("csp-geofields")
    data = (WEIGHTS / "model.safetensors").read_bytes()
    assert spec.sha256 == hashlib.sha256(data).hexdigest() and spec.size_bytes == len(data)
    assert spec.license == "CC-BY-4.0" and spec.redistributable and spec.source == "packaged"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = ge.LocationEncoder.from_pretrained("csp-geofields")
    assert enc.config == LocationEncoder.from_pretrained(str(WEIGHTS)).config
    assert json.loads((WEIGHTS / "config.json").read_text())["format_version"] == 2


def test_old_default_stays_loadable_by_name(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    old = ge.LocationEncoder.from_pretrained("csp-bluemarble")
    assert old.embed_dim == 256 and old.config.position_encoder.family == "grid"


def test_finite_and_matches_forward(model):
    pts = np.concatenate([np.array([[0, 0], [180, 90], [-180, -90], [179.99, 0.0], [-179.99, 0.0]]),
                          _uniform(1000, 0)])
    emb = model.encode(pts, order="lonlat")
    assert emb.shape == (len(pts), 512) and emb.dtype == np.float32 and np.isfinite(emb).all()
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(pts[:50]).float()).numpy(), emb[:50], rtol=1e-4,
                                   atol=1e-4)


def test_effective_rank_at_least_30(model):
    """exp(entropy of the normalised squared singular values) of the centred embedding of 2,000
    uniform points (the issue's definition, computed here with numpy)."""
    emb = model.encode(_uniform(2000, 2024), order="lonlat").astype(np.float64)
    s = np.linalg.svd(emb - emb.mean(0), compute_uv=False)
    p = s ** 2 / np.sum(s ** 2)
    p = p[p > 0]
    assert np.exp(-np.sum(p * np.log(p))) >= 30.0


def _jump_ratios(enc):
    """Largest embedding jump across the antimeridian and around the poles (points 2e-3 degrees
    apart, or all at 89.999 degrees of latitude), relative to the median distance between
    neighbours 1 degree apart elsewhere."""
    lat = np.linspace(-89.0, 89.0, 179)
    east = enc.encode(np.stack([np.full_like(lat, 179.999), lat], 1))
    west = enc.encode(np.stack([np.full_like(lat, -179.999), lat], 1))
    antimeridian = np.linalg.norm(east - west, axis=1).max()
    lon = np.linspace(-180.0, 179.0, 360)
    north = enc.encode(np.stack([lon, np.full_like(lon, 89.999)], 1))
    south = enc.encode(np.stack([lon, np.full_like(lon, -89.999)], 1))
    pole = max(np.linalg.norm(north - north.mean(0), axis=1).max(), np.linalg.norm(south - south.mean(0), axis=1).max())
    base = _uniform(1000, 5)
    base[:, 0] = np.clip(base[:, 0], -178.0, 178.0)
    base[:, 1] = np.clip(base[:, 1], -80.0, 80.0)
    step = np.linalg.norm(enc.encode(base) - enc.encode(base + [1.0, 0.0]), axis=1)
    return antimeridian / np.median(step), pole / np.median(step)


def test_continuous_across_the_antimeridian_and_at_the_poles(model):
    antimeridian, pole = _jump_ratios(model)
    assert antimeridian < 0.05 and pole < 0.05, (antimeridian, pole)


@pytest.mark.skipif(not (OLD / "model.safetensors").is_file(), reason="weights/csp-bluemarble not present")
def test_the_continuity_check_detects_the_old_grid_model():
    """The same measure on csp-bluemarble (Space2Vec grid, discontinuous at +-180 degrees and at
    the poles' meridians) is far above the threshold, so the check above can fail."""
    antimeridian, pole = _jump_ratios(LocationEncoder.from_pretrained(str(OLD)))
    assert antimeridian > 0.5 and pole > 0.5
