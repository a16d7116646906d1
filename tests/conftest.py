"""Shared test fixtures: offline by default, fixtures from ../shared when present."""

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """Keep every test out of the user's caches and off the network."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("GEOLOC_EMBED_CACHE", str(cache / "geoloc_embed"))
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


def fixture_path(*parts: str) -> Path:
    """Path under ../shared/fixtures, skipping the test when it is absent (a user's fresh clone)."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"fixture {path} not available (../shared is absent)")
    return path
