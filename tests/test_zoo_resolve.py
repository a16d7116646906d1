"""Name parsing and resolution (``geoloc_embed.zoo.names``, ``geoloc_embed.zoo.resolve``): pure, stat only.

Every test here runs with sockets refused and checks that resolution creates nothing on disk.
"""

import os
import socket
from pathlib import Path

import pytest

from geoloc_embed import zoo
from geoloc_embed.errors import PretrainedNotFoundError, UnknownModelError, WeightsError
from geoloc_embed.zoo import ArchiveMember, HubRepo, LocalPath, RegisteredName, UnresolvedNameError, parse_name
from geoloc_embed.zoo.resolve import resolve_sources


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _kinds(sources):
    return [(s.kind, s.skipped) for s in sources]


# --------------------------------------------------------------------------- names
def test_prefixes():
    assert parse_name("hf-hub:org/repo") == HubRepo("org/repo", None)
    assert parse_name("hf-hub:org/repo@v1.0") == HubRepo("org/repo", "v1.0")
    assert parse_name("zoo:CSP") == RegisteredName("csp-inat")  # aliases, any case
    with pytest.raises(UnknownModelError, match="not a Hugging Face repository id"):
        parse_name("hf-hub:not a repo")
    with pytest.raises(UnknownModelError, match="Did you mean 'csp-inat'"):
        parse_name("zoo:csp-inatt")


def test_registered_names_and_aliases(cwd):
    assert parse_name("csp-inat") == RegisteredName("csp-inat")
    assert parse_name("csp") == RegisteredName("csp-inat")
    assert parse_name(" CSP-FMOW ") == RegisteredName("csp-fmow")


def test_existing_paths_work_unprefixed(cwd):
    (cwd / "model").mkdir()
    (cwd / "file.pth.tar").write_bytes(b"x")
    assert parse_name("model") == LocalPath(Path("model"))
    assert parse_name(str(cwd / "file.pth.tar")) == LocalPath(cwd / "file.pth.tar")
    assert parse_name(cwd / "model") == LocalPath(cwd / "model")  # os.PathLike: always a path
    assert parse_name("local-dir:model") == LocalPath(Path("model"))


def test_path_that_is_also_a_registered_name_is_an_error_naming_both(cwd):
    (cwd / "geoclip").mkdir()
    with pytest.raises(UnknownModelError) as info:
        parse_name("geoclip")
    message = str(info.value)
    assert str(cwd / "geoclip") in message and "registered model 'geoclip'" in message
    assert "'local-dir:geoclip'" in message and "'zoo:geoclip'" in message
    assert parse_name("local-dir:geoclip") == LocalPath(Path("geoclip"))
    assert parse_name("zoo:geoclip") == RegisteredName("geoclip")
    assert parse_name("./geoclip") == LocalPath(Path("geoclip"))  # not a registered name


def test_archive_member_and_hash_in_file_names(cwd):
    (cwd / "model_dir.zip").write_bytes(b"PK")
    assert parse_name("model_dir.zip#csp-inat") == ArchiveMember(Path("model_dir.zip"), "csp-inat")
    assert parse_name("model_dir.zip#a/b#c.pth.tar") == ArchiveMember(Path("model_dir.zip"), "a/b#c.pth.tar")
    # a '#' that is part of an existing file's name: the whole path is checked first (issue 13 item 13)
    (cwd / "run#3.pth.tar").write_bytes(b"x")
    assert parse_name("run#3.pth.tar") == LocalPath(Path("run#3.pth.tar"))
    (cwd / "my#archive.zip").write_bytes(b"PK")
    assert parse_name("my#archive.zip#csp-fmow") == ArchiveMember(Path("my#archive.zip"), "csp-fmow")
    assert parse_name("local-dir:my#archive.zip#m") == ArchiveMember(Path("my#archive.zip"), "m")
    with pytest.raises(UnresolvedNameError, match="'missing.zip' is not a file"):
        parse_name("missing.zip#csp-inat")


def test_unresolved_names_keep_the_helpful_errors(cwd):
    with pytest.raises(UnresolvedNameError) as info:
        parse_name("csp-inatt")
    assert "Did you mean 'csp-inat'" in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, FileNotFoundError)
    with pytest.raises(UnresolvedNameError, match="write 'hf-hub:org/repo'"):
        parse_name("org/repo")
    with pytest.raises(UnresolvedNameError, match=r"nope\.pth\.tar does not exist"):
        parse_name("nope.pth.tar")
    with pytest.raises(UnresolvedNameError, match="no such file or directory"):
        parse_name("local-dir:csp-inat")
    with pytest.raises(UnresolvedNameError):
        parse_name("")
    with pytest.raises(TypeError):
        parse_name(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- resolution
def test_registered_url_zip_sources_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    cache = tmp_path / "cache"
    sources = resolve_sources("csp-inat", cache_dir=cache)
    assert _kinds(sources) == [("packaged", "not in this installation"), ("converted-cache", None),
                               ("previous-download", None), ("url-download", None)]
    assert sources[1].path == cache / "converted" / "csp-inat"
    assert sources[2].path == cache / "downloads" / "model_dir.zip"
    assert sources[3].url == zoo.get_pretrained_spec("csp-inat").url
    assert all(s.spec is sources[0].spec for s in sources)
    assert not cache.exists()  # resolution writes nothing


def test_offline_and_force_download_are_recorded_as_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert _kinds(resolve_sources("csp-inat", cache_dir=tmp_path))[-1] == ("url-download", "HF_HUB_OFFLINE is set")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    offline = resolve_sources("csp-inat", cache_dir=tmp_path, local_files_only=True)
    assert offline[-1].skipped == "local_files_only=True"
    forced = resolve_sources("torchspatial-xyz-fmow", cache_dir=tmp_path, force_download=True)
    assert _kinds(forced)[1:] == [("converted-cache", "force_download"), ("previous-download", "force_download"),
                                  ("url-download", None)]


def test_hf_and_pip_wheel_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    sources = resolve_sources("satclip-vit16-l40", cache_dir=tmp_path, revision="abc")
    assert _kinds(sources) == [("packaged", "not in this installation"), ("converted-cache", None),
                               ("hf-cache", None), ("hf-download", None)]
    assert sources[2].repo_id == "microsoft/SatCLIP-ViT16-L40" and sources[2].revision == "abc"
    assert sources[2].filenames == ("satclip-vit16-l40.ckpt",) and sources[2].path == tmp_path / "huggingface"
    assert _kinds(resolve_sources("geoclip", cache_dir=tmp_path))[-1] == ("pip-wheel", None)


def test_packaged_model_is_the_only_source():
    sources = resolve_sources("csp-bluemarble", local_files_only=True)
    assert [s.kind for s in sources] == ["packaged"]
    assert (sources[0].path / "model.safetensors").is_file()


def test_hub_repo_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    sources = resolve_sources("hf-hub:org/repo@main")
    assert _kinds(sources) == [("hf-cache", None), ("hf-download", None)]
    assert sources[0].filenames == ("config.json", "model.safetensors") and sources[0].revision == "main"
    assert sources[0].path == tmp_path / "hf"
    assert resolve_sources("hf-hub:org/repo", revision="v2", local_files_only=True)[1].skipped == \
        "local_files_only=True"


def test_local_sources(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert [s.kind for s in resolve_sources(tmp_path / "m")] == ["model-dir"]
    (tmp_path / "a.pth.tar").write_bytes(b"x")
    assert [s.kind for s in resolve_sources(tmp_path / "a.pth.tar")] == ["checkpoint"]
    (tmp_path / "a.zip").write_bytes(b"PK")
    assert [(s.kind, s.selector) for s in resolve_sources(f"{tmp_path / 'a.zip'}#csp-inat")] == [("archive",
                                                                                                   "csp-inat")]
    assert [(s.kind, s.selector) for s in resolve_sources(tmp_path / "a.zip")] == [("archive", None)]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.pth.tar").write_bytes(b"x")
    with pytest.raises(PretrainedNotFoundError, match=r"without config.json.*x.pth.tar"):
        resolve_sources(tmp_path / "empty")
    (tmp_path / "w.safetensors").write_bytes(b"x")
    with pytest.raises(PretrainedNotFoundError, match="bare safetensors"):
        resolve_sources(tmp_path / "w.safetensors")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(WeightsError, match="unsupported file type"):
        resolve_sources(tmp_path / "notes.txt")


def test_resolution_reads_the_environment_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOLOC_EMBED_CACHE", str(tmp_path / "one"))
    assert resolve_sources("csp-fmow")[1].path == tmp_path / "one" / "converted" / "csp-fmow"
    monkeypatch.setenv("GEOLOC_EMBED_CACHE", str(tmp_path / "two"))
    assert resolve_sources("csp-fmow")[1].path == tmp_path / "two" / "converted" / "csp-fmow"
    assert not any(p.exists() for p in (tmp_path / "one", tmp_path / "two"))
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # conftest: offline by default
