"""Shared test fixtures: offline by default, fixtures from ../shared when present.

Two sets of checkpoints serve the converter tests:

* the project's own small ones in ``tests/fixtures/checkpoints`` (``csp_layout.FIXTURE_SET``), on every
  clone;
* the real third-party ones in ``../shared/fixtures`` (CI has them). Tests on them are parametrised with
  ``when_shared``, which yields no cases when ``../shared`` is absent; ``test_convert_csp.py::
  test_real_fixtures_present`` then reports that once, as a skip, instead of one skip per case.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures"
SHARED_ABSENT = f"{FIXTURES} is absent (a clone without ../shared): tests on the real third-party checkpoints"


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """Keep every test out of the user's caches and off the network."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("GEOLOC_EMBED_CACHE", str(cache / "geoloc_embed"))
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


def when_shared(cases: Iterable[Any]) -> list[Any]:
    """``cases`` (parameters of a test on ../shared/fixtures files) when ../shared exists, else none."""
    return list(cases) if FIXTURES.is_dir() else []


def shared_paths(folder: str, names: Iterable[str]) -> list[Any]:
    """``pytest.param(path, id=...)`` for the real files ``../shared/fixtures/<folder>/<name>`` (see above)."""
    return when_shared(pytest.param(FIXTURES / folder / name, id="real-" + _short(name)) for name in names)


def _short(name: str) -> str:
    return name.replace("model_", "").split(".pth")[0][:48]


def fixture_path(*parts: str) -> Path:
    """Path under ../shared/fixtures, skipping the test when it is absent (a user's fresh clone)."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"fixture {path} not available (../shared is absent)")
    return path


def own_paths(*prefixes: str, convertible_only: bool = False) -> list[Any]:
    """``pytest.param(path, id=...)`` for the own fixture checkpoints whose names start with ``prefixes``."""
    from csp_layout import FIXTURE_SET

    return [pytest.param(f.path, id="own-" + _short(f.name)) for f in FIXTURE_SET
            if (not prefixes or f.name.startswith(prefixes)) and (f.convertible or not convertible_only)]
