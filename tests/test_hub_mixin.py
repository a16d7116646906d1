"""HubMixin: save_pretrained / push_to_hub without huggingface_hub at import, and a lazy-import check."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest
import torch

from geoloc_embed import LocationEncoder, LocationEncoderConfig
from geoloc_embed.config import CSPFFNConfig
from geoloc_embed.hub_mixin import DEFAULT_COMMIT_MESSAGE, HubMixin

REPO_ROOT = Path(__file__).resolve().parents[1]
POINTS = np.array([[2.35, 48.86], [-74.0, 40.7], [180.0, 0.0], [0.0, -90.0], [139.7, 35.7]], dtype=np.float32)
SAVED_FILES = {"model.safetensors", "config.json", "README.md"}
#: third-party modules that ``import geoloc_embed`` must not import (torch itself imports tqdm).
LAZY_MODULES = ("huggingface_hub", "safetensors", "pyproj", "pandas", "shapely", "httpx", "requests",
                "filelock", "yaml", "fsspec")


@pytest.fixture
def model():
    torch.manual_seed(0)
    return LocationEncoder(LocationEncoderConfig(network=CSPFFNConfig(hidden_dim=64, embed_dim=32), num_classes=3))


def assert_same_model(a, b):
    assert a.config == b.config
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)
    np.testing.assert_array_equal(a.encode(POINTS), b.encode(POINTS))


# --------------------------------------------------------------------------- save_pretrained
def test_location_encoder_uses_our_mixin_not_huggingface_hubs():
    assert issubclass(LocationEncoder, HubMixin)
    assert not any(cls.__module__.startswith("huggingface_hub") for cls in LocationEncoder.__mro__)


def test_save_pretrained_round_trip(model, tmp_path):
    assert model.save_pretrained(tmp_path / "m") is None
    assert {p.name for p in (tmp_path / "m").iterdir()} == SAVED_FILES
    loaded = LocationEncoder.from_pretrained(tmp_path / "m")
    assert_same_model(model, loaded)
    np.testing.assert_array_equal(model.logits(POINTS), loaded.logits(POINTS))
    assert not loaded.training
    card = (tmp_path / "m" / "README.md").read_text(encoding="utf-8")
    assert "library_name: geoloc-embed" in card and "location-encoder" in card  # Hub metadata kept
    assert json.loads((tmp_path / "m" / "config.json").read_text())["network"]["hidden_dim"] == 64


def test_save_pretrained_creates_nested_directories_and_accepts_str(model, tmp_path):
    target = tmp_path / "does" / "not" / "exist"
    model.save_pretrained(str(target))
    assert {p.name for p in target.iterdir()} == SAVED_FILES
    assert_same_model(model, LocationEncoder.from_pretrained(str(target)))


def test_save_pretrained_overwrites_a_previous_model(model, tmp_path):
    torch.manual_seed(1)
    other = LocationEncoder(LocationEncoderConfig(network=CSPFFNConfig(hidden_dim=32, embed_dim=16)))
    other.save_pretrained(tmp_path / "m")
    model.save_pretrained(tmp_path / "m")
    assert_same_model(model, LocationEncoder.from_pretrained(tmp_path / "m"))


def test_push_kwargs_are_ignored_without_push_to_hub(model, tmp_path, monkeypatch):
    import huggingface_hub

    def forbidden(*args, **kwargs):
        raise AssertionError("save_pretrained without push_to_hub must not talk to the Hub")

    monkeypatch.setattr(huggingface_hub, "HfApi", forbidden)
    assert model.save_pretrained(tmp_path / "m", repo_id="me/x", commit_message="unused", private=True) is None
    assert {p.name for p in (tmp_path / "m").iterdir()} == SAVED_FILES


def test_subclass_without_save_hook_is_an_error(tmp_path):
    class Bare(HubMixin):
        pass

    with pytest.raises(NotImplementedError, match="_save_pretrained"):
        Bare().save_pretrained(tmp_path / "x")


# --------------------------------------------------------------------------- push_to_hub
class RecordingApi:
    """Stand-in for ``huggingface_hub.HfApi``: records calls, snapshots the uploaded folder."""

    instances: ClassVar[list["RecordingApi"]] = []
    snapshot_root: ClassVar[Path] = Path()

    def __init__(self, token=None, **kwargs):
        self.token = token
        self.init_kwargs = kwargs
        self.create_repo_calls: list[dict] = []
        self.upload_calls: list[dict] = []
        RecordingApi.instances.append(self)

    def create_repo(self, repo_id, *, private=None, exist_ok=False, **kwargs):
        self.create_repo_calls.append({"repo_id": repo_id, "private": private, "exist_ok": exist_ok, **kwargs})
        full = repo_id if "/" in repo_id else f"someone/{repo_id}"  # the Hub adds the namespace
        return SimpleNamespace(repo_id=full, url=f"https://huggingface.co/{full}")

    def upload_folder(self, **kwargs):
        folder = Path(kwargs["folder_path"])
        assert folder.is_dir(), "the folder must still exist during the upload"
        assert {p.name for p in folder.iterdir()} == SAVED_FILES
        snapshot = RecordingApi.snapshot_root / f"upload-{len(list(RecordingApi.snapshot_root.iterdir()))}"
        shutil.copytree(folder, snapshot)
        self.upload_calls.append({**kwargs, "snapshot": snapshot})
        return f"https://huggingface.co/{kwargs['repo_id']}/commit/0123abcd"


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    import huggingface_hub

    RecordingApi.instances = []
    RecordingApi.snapshot_root = tmp_path / "uploaded"
    RecordingApi.snapshot_root.mkdir()
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    return RecordingApi


def test_push_to_hub_creates_repo_and_uploads_a_loadable_folder(model, fake_hub):
    result = model.push_to_hub("me/my-encoder", commit_message="first version", private=True, token="hf_xyz",
                               branch="dev", create_pr=True, allow_patterns=["*.json", "*.safetensors"],
                               ignore_patterns="*.tmp", delete_patterns=["old/*"])
    assert result == "https://huggingface.co/me/my-encoder/commit/0123abcd"
    (api,) = fake_hub.instances
    assert api.token == "hf_xyz"
    assert api.create_repo_calls == [{"repo_id": "me/my-encoder", "private": True, "exist_ok": True}]
    (call,) = api.upload_calls
    snapshot = call.pop("snapshot")
    folder = Path(call.pop("folder_path"))
    assert call == {"repo_id": "me/my-encoder", "repo_type": "model", "commit_message": "first version",
                    "revision": "dev", "create_pr": True, "allow_patterns": ["*.json", "*.safetensors"],
                    "ignore_patterns": "*.tmp", "delete_patterns": ["old/*"]}
    assert folder.parts[-2:] == ("me", "my-encoder")
    assert not folder.exists(), "the temporary folder is removed after the upload"
    assert_same_model(model, LocationEncoder.from_pretrained(snapshot))


def test_push_to_hub_defaults(model, fake_hub):
    model.push_to_hub("bare-name")
    (api,) = fake_hub.instances
    assert api.token is None
    assert api.create_repo_calls == [{"repo_id": "bare-name", "private": None, "exist_ok": True}]
    (call,) = api.upload_calls
    # the repo id the Hub answered with (namespace added) is the one uploaded to
    assert call["repo_id"] == "someone/bare-name"
    assert call["commit_message"] == DEFAULT_COMMIT_MESSAGE == "Push model using geoloc-embed"
    assert call["revision"] is None and call["create_pr"] is None
    assert call["allow_patterns"] is None and call["ignore_patterns"] is None and call["delete_patterns"] is None
    assert_same_model(model, LocationEncoder.from_pretrained(call["snapshot"]))


def test_save_pretrained_with_push_to_hub(model, fake_hub, tmp_path):
    out = tmp_path / "local" / "geo-model"
    result = model.save_pretrained(out, push_to_hub=True, commit_message="via save", token="tok", private=False)
    assert result == "https://huggingface.co/someone/geo-model/commit/0123abcd"
    assert {p.name for p in out.iterdir()} == SAVED_FILES  # saved locally as well
    (api,) = fake_hub.instances
    assert api.token == "tok"
    assert api.create_repo_calls == [{"repo_id": "geo-model", "private": False, "exist_ok": True}]  # dir name
    (call,) = api.upload_calls
    assert call["commit_message"] == "via save"
    assert_same_model(model, LocationEncoder.from_pretrained(call["snapshot"]))

    model.save_pretrained(out, repo_id="org/explicit", push_to_hub=True)
    assert fake_hub.instances[1].create_repo_calls[0]["repo_id"] == "org/explicit"
    assert fake_hub.instances[1].upload_calls[0]["repo_id"] == "org/explicit"


def test_push_to_hub_rejects_unknown_arguments(model, fake_hub):
    with pytest.raises(TypeError):
        model.push_to_hub("me/x", not_an_option=1)
    assert fake_hub.instances == []


# --------------------------------------------------------------------------- lazy imports
def run_python(code: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=str(REPO_ROOT), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_import_does_not_load_heavy_modules():
    out = run_python(f"""
        import json, sys
        import geoloc_embed
        print(json.dumps(sorted(m for m in {LAZY_MODULES!r} if m in sys.modules)))
    """)
    assert json.loads(out) == []


def test_local_save_and_load_do_not_import_huggingface_hub(model, tmp_path):
    model.save_pretrained(tmp_path / "m")
    expected = model.encode(POINTS).tolist()
    out = run_python(f"""
        import json, sys
        import geoloc_embed as ge
        model = ge.LocationEncoder.from_pretrained({str(tmp_path / "m")!r})
        emb = model.encode({POINTS.tolist()!r}).tolist()
        ge.create_model("csp-grid", hidden_dim=16, embed_dim=8).save_pretrained(
            {str(tmp_path / "again" / "m")!r})
        bundled = ge.LocationEncoder.from_pretrained(ge.DEFAULT_MODEL)
        bundled.encode([[2.35, 48.86]])
        print(json.dumps({{"emb": emb, "hub": "huggingface_hub" in sys.modules}}))
    """)
    result = json.loads(out)
    assert result["hub"] is False
    np.testing.assert_allclose(np.array(result["emb"], dtype=np.float32), np.array(expected, dtype=np.float32),
                               rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- signatures
#: Parameters of PyTorchModelHubMixin's methods that ours do not take: its own config.json and model card
#: writing (``_save_pretrained`` writes both here), and the constructor kwargs it passes to ``__init__``.
HF_ONLY = {"save_pretrained": {"config", "model_card_kwargs"}, "push_to_hub": {"config", "model_card_kwargs"},
           "from_pretrained": {"model_kwargs"}}
#: Defaults that differ on purpose: the commit message names this library.
OWN_DEFAULTS = {("push_to_hub", "commit_message")}


@pytest.mark.parametrize("method", ["save_pretrained", "push_to_hub", "from_pretrained"])
def test_signatures_match_pytorch_model_hub_mixin(method):
    import inspect

    from huggingface_hub import PyTorchModelHubMixin

    theirs = inspect.signature(getattr(PyTorchModelHubMixin, method)).parameters
    ours = inspect.signature(getattr(LocationEncoder, method)).parameters
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    assert [n for n, p in ours.items() if p.kind in positional] == \
        [n for n, p in theirs.items() if p.kind in positional]
    for name, param in theirs.items():
        if name in HF_ONLY[method]:
            continue
        assert name in ours, f"{method} lacks {name!r}"
        assert ours[name].kind == param.kind, f"{method}({name}): {ours[name].kind} vs {param.kind}"
        if (method, name) not in OWN_DEFAULTS:
            assert ours[name].default == param.default, f"{method}({name}): {ours[name].default!r} vs {param.default!r}"
    extra = [p for n, p in ours.items() if n not in theirs]
    assert all(p.kind == inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty
               for p in extra), f"{method}: our own parameters must be keyword-only with defaults: {extra}"
    if method == "push_to_hub":
        assert ours["commit_message"].default == DEFAULT_COMMIT_MESSAGE
