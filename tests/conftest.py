"""Shared test fixtures: offline by default, fixtures from ../shared when present.

Two sets of checkpoints serve the converter tests:

* the project's own small ones in ``tests/fixtures/checkpoints`` (``csp_layout.FIXTURE_SET``), on every
  clone;
* the real third-party ones in ``../shared/fixtures`` (CI has them). A test on both adds the real cases
  with ``shared_paths`` / ``when_shared``, which yield none when ``../shared`` is absent; a test that only
  makes sense on the real files is parametrised with ``real_only``, which then yields one skipped case
  saying why (instead of one skip per file, or pytest's bare "empty parameter set").
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures"
SHARED_ABSENT = (f"needs the real third-party checkpoints in {FIXTURES}, absent on a clone without ../shared (CI "
                 "has them); the converter tests run on tests/fixtures/checkpoints here, without their real-file cases")


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """Keep every test out of the user's caches and off the network."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("GEOLOC_EMBED_CACHE", str(cache / "geoloc_embed"))
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """(directory, model): a tiny seeded CSP-grid encoder (4 scales, hidden 8, embedding 6) saved with
    ``save_pretrained``, for tests that load a model by path (CLI, engine adapters, scikit-learn)."""
    import torch

    import geoloc_embed as ge

    torch.manual_seed(0)
    model = ge.create_model("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6).eval()
    path = tmp_path_factory.mktemp("models") / "tiny"
    model.save_pretrained(path)
    return path, model


def when_shared(cases: Iterable[Any]) -> list[Any]:
    """``cases`` (parameters of a test on ../shared/fixtures files) when ../shared exists, else none."""
    return list(cases) if FIXTURES.is_dir() else []


def real_only(cases: Iterable[Any]) -> list[Any]:
    """``cases`` when ../shared exists, else one case skipped with the reason ``SHARED_ABSENT``."""
    if FIXTURES.is_dir():
        return list(cases)
    return [pytest.param(None, id="no-shared", marks=pytest.mark.skip(reason=SHARED_ABSENT))]


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
