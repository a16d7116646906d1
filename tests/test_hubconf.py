"""hubconf.py: ``torch.hub.load(<this checkout>, ..., source="local")`` works offline."""

import importlib.util
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

import geoloc_embed as ge

REPO_ROOT = Path(__file__).resolve().parents[1]
POINTS = [[2.35, 48.86], [-74.0, 40.7]]


@pytest.fixture
def no_sockets(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:])
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_entry_points_are_listed():
    spec = importlib.util.spec_from_file_location("hubconf", REPO_ROOT / "hubconf.py")  # torch.hub.list: GitHub only
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    assert {"location_encoder", "architecture", "csp_bluemarble"} <= {
        name for name in dir(hubconf) if callable(getattr(hubconf, name)) and not name.startswith("_")}
    assert set(hubconf.dependencies) >= {"torch", "safetensors"}


def test_load_pretrained_and_architecture(no_sockets):
    expected = ge.LocationEncoder.from_pretrained("csp-bluemarble").encode(POINTS)
    by_name = torch.hub.load(str(REPO_ROOT), "location_encoder", "csp-bluemarble", source="local",
                             local_files_only=True)
    assert isinstance(by_name, ge.LocationEncoder) and by_name.pretrained_spec.name == "csp-bluemarble"
    np.testing.assert_array_equal(by_name.encode(POINTS), expected)
    np.testing.assert_array_equal(torch.hub.load(str(REPO_ROOT), "csp_bluemarble", source="local").encode(POINTS),
                                  expected)
    untrained = torch.hub.load(str(REPO_ROOT), "architecture", "sphere2vec-sphere-m", source="local", embed_dim=32)
    assert untrained.embed_dim == 32 and untrained.config.position_encoder.family == "sphere-m"
    assert no_sockets == []


def test_load_a_local_directory(tmp_path):
    model = ge.create_model("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6)
    model.save_pretrained(tmp_path / "m")
    loaded = torch.hub.load(str(REPO_ROOT), "location_encoder", str(tmp_path / "m"), source="local")
    np.testing.assert_array_equal(loaded.encode(POINTS), model.eval().encode(POINTS))
