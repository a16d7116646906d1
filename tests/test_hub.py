"""Resolution order of ``from_pretrained`` (DESIGN.md section 4), downloads, archives, offline mode.

Everything is offline: a ``http.server`` on 127.0.0.1 stands in for Dropbox/GitHub, the Hugging Face
cache is laid out by hand, and ``socket.socket.connect`` is patched to fail wherever no network is
allowed.
"""

import dataclasses
import hashlib
import http.server
import io
import os
import socket
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from csp_layout import csp_params, torchspatial_params, write_checkpoint

import geoloc_embed as ge
from geoloc_embed import zoo
from geoloc_embed.errors import PretrainedNotFoundError, UnknownModelError, WeightsError
from geoloc_embed.zoo import fetcher as zoo_fetch
from geoloc_embed.zoo import registry
from geoloc_embed.zoo.archive import extract_member, safe_member_name
from geoloc_embed.zoo.download import DownloadError, download_file
from geoloc_embed.zoo.wheel import pip_wheel_file

CSP_INAT = ("model_inat_2018_gridcell_0.0010_32_0.1000000_1_512_leakyrelu_UNSUPER-contsoftmax_0.000500_1.000_1_"
            "1.000_TMP20.0000_1.0000_1.0000.pth.tar")
CSP_INAT_FT = ("model_inat_2018_gridcell_0.0010_32_0.1000000_1_512_leakyrelu_contsoftmax_ratio0.050_0.000500_1.000_"
               "1_1.000_TMP20.0000_1.0000_1.0000.pth.tar")
POINTS = [[0.0, 90.0], [0.0, -90.0], [180.0, 0.0], [-180.0, 0.0], [2.35, 48.86]]


# --------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def csp_inat(tmp_path_factory) -> Path:
    """A checkpoint laid out like the authors' released iNat file, under its name, with full-size layers.

    Seeded random weights (tests/csp_layout.py), 10 classes and 5 users like ../shared's csp/ files: the
    registry's structure check for csp-inat (grid, 32 scales, FFN 128-512-256, leakyrelu) passes on it.
    """
    return write_checkpoint(tmp_path_factory.mktemp("csp") / CSP_INAT, csp_params(CSP_INAT), seed=0, layout="csp",
                            epoch=1, adam_moments=False)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    calls = []

    def refuse(self, address):
        calls.append(address)
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return calls


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")


def _cache() -> Path:
    return Path(os.environ["GEOLOC_EMBED_CACHE"])


def _tiny_model(num_classes: int = 3) -> ge.LocationEncoder:
    torch.manual_seed(0)
    config = ge.architectures.architecture_config("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6,
                                                  num_classes=num_classes)
    return ge.LocationEncoder(config).eval()


def _authors_zip(fixture: Path | bytes, extra: dict | None = None) -> bytes:
    """A zip laid out like the authors' model_dir.zip (``fixture`` as both iNat members), with macOS junk."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        data = fixture if isinstance(fixture, bytes) else fixture.read_bytes()
        zf.writestr("model_dir/", b"")
        zf.writestr(f"model_dir/model_inat_2018/{CSP_INAT}", data)
        zf.writestr(f"model_dir/model_inat_2018/{CSP_INAT_FT}", data)
        zf.writestr(f"__MACOSX/model_dir/model_inat_2018/._{CSP_INAT}", b"\x00\x05\x16\x07junk")
        zf.writestr("model_dir/.DS_Store", b"junk")
        for name, payload in (extra or {}).items():
            zf.writestr(name, payload)
    return buffer.getvalue()


class _Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1; optional Range support and truncation."""

    def __init__(self, files: dict, ranges: bool = False, truncate_first: int | None = None):
        self.files = files
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802
                path = self.path.split("?", 1)[0]
                outer.requests.append((path, self.headers.get("Range")))
                data = outer.files.get(path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if ranges and self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                if ranges:
                    self.send_header("Accept-Ranges", "bytes")
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.truncate_first is not None:
                    cut = outer.truncate_first
                    outer.truncate_first = None
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.truncate_first = truncate_first
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(files, **kwargs):
        server = _Server(files, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _with_spec(monkeypatch, name: str, **changes) -> registry.PretrainedSpec:
    spec = dataclasses.replace(registry.get_pretrained_spec(name), **changes)
    monkeypatch.setitem(registry._SPECS, name, spec)
    return spec


def _archive_size_is_registered(monkeypatch, data: bytes) -> None:
    """Register ``len(data)`` as the size of the csp-* archive (the real one has 94,186,705 bytes)."""
    for name in ("csp-inat", "csp-inat-ft5", "csp-fmow", "csp-fmow-ft5"):
        _with_spec(monkeypatch, name, size_bytes=len(data))


def _leftovers(root: Path) -> list[str]:
    """Files under ``root``, lock files excepted (they stay, empty: deleting them would race other processes)."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix != ".lock")


def _converted(name: str) -> Path:
    """The current version directory of the converted cache of ``name``."""
    root = _cache() / "converted" / name
    return root / (root / "CURRENT").read_text().strip()


# --------------------------------------------------------------------------- 1. local paths
def test_local_directory(tmp_path, no_network):
    model = _tiny_model()
    model.save_pretrained(tmp_path / "m")
    loaded = ge.LocationEncoder.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(loaded.encode(POINTS), model.encode(POINTS))
    assert loaded.pretrained_spec is None and not loaded.training


def test_local_directory_without_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PretrainedNotFoundError, match="without config.json"):
        ge.LocationEncoder.from_pretrained(tmp_path / "empty")


def test_local_checkpoint_converted_on_the_fly(no_network, csp_inat):
    path = csp_inat
    model = ge.LocationEncoder.from_pretrained(str(path))
    assert model.config.position_encoder.family == "grid" and model.config.num_classes == 10
    assert not (_cache() / "converted").exists()  # a local file is not a registered name: nothing cached


def test_missing_path_and_hf_like_names(tmp_path, no_network):
    with pytest.raises(PretrainedNotFoundError, match="nope.pth.tar does not exist"):
        ge.LocationEncoder.from_pretrained(str(tmp_path / "nope.pth.tar"))
    with pytest.raises(UnknownModelError, match="hf-hub:org/repo"):
        ge.LocationEncoder.from_pretrained("org/repo")
    with pytest.raises(UnknownModelError, match="Did you mean 'csp-inat'"):
        ge.LocationEncoder.from_pretrained("csp-inatt")


def test_local_zip_selection(tmp_path, monkeypatch, no_network, csp_inat):
    archive = tmp_path / "model_dir.zip"
    archive.write_bytes(_authors_zip(csp_inat))
    _archive_size_is_registered(monkeypatch, archive.read_bytes())
    with pytest.raises(PretrainedNotFoundError, match=r"holds 2 checkpoints.*csp-inat"):
        ge.LocationEncoder.from_pretrained(archive)
    by_member = ge.LocationEncoder.from_pretrained(f"{archive}#model_dir/model_inat_2018/{CSP_INAT}")
    assert by_member.config.num_classes == 10 and by_member.pretrained_spec is None
    by_name = ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat")
    assert by_name.pretrained_spec.name == "csp-inat"
    assert by_name.config.num_classes == 0  # pre-training checkpoint: its untrained class head is dropped
    np.testing.assert_allclose(by_name.encode(POINTS), by_member.encode(POINTS))
    # the conversion was cached: the registered name now loads offline without the archive
    archive.unlink()
    again = ge.LocationEncoder.from_pretrained("csp-inat", local_files_only=True)
    np.testing.assert_array_equal(again.encode(POINTS), by_name.encode(POINTS))
    assert not [p for p in _cache().rglob("*") if p.name.startswith(".extract-")]


def test_local_zip_single_member(tmp_path, csp_inat):
    archive = tmp_path / "one.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(csp_inat, f"x/{CSP_INAT}")
    assert ge.LocationEncoder.from_pretrained(archive).config.num_classes == 10


# --------------------------------------------------------------------------- 2. packaged weights
def test_packaged_weights(tmp_path, monkeypatch, no_network):
    import importlib.resources

    model = _tiny_model()
    package_root = tmp_path / "pkg"
    model.save_pretrained(package_root / "weights" / "tiny-test")
    digest = hashlib.sha256((package_root / "weights" / "tiny-test" / "model.safetensors").read_bytes()).hexdigest()
    spec = registry.PretrainedSpec(
        name="tiny-test", source="packaged", license="MIT", citation="@misc{x}", description="test",
        coordinate_convention="(lon, lat) degrees", training_data="none", redistributable=True,
        config=model.config, sha256=digest)
    monkeypatch.setitem(registry._SPECS, "tiny-test", spec)
    real_files = importlib.resources.files
    monkeypatch.setattr(importlib.resources, "files",
                        lambda pkg: package_root if pkg == "geoloc_embed" else real_files(pkg))
    loaded = ge.LocationEncoder.from_pretrained("tiny-test")
    assert loaded.pretrained_spec is spec
    np.testing.assert_array_equal(loaded.encode(POINTS), model.encode(POINTS))
    # tampered packaged weights are refused
    monkeypatch.setitem(registry._SPECS, "tiny-test", dataclasses.replace(spec, sha256="0" * 64))
    with pytest.raises(WeightsError, match="corrupted"):
        ge.LocationEncoder.from_pretrained("tiny-test")


# --------------------------------------------------------------------------- 3-4. download, cache
def test_download_extract_convert_cache(monkeypatch, serve, online, tmp_path, csp_inat):
    fixture = csp_inat
    data = _authors_zip(fixture)
    server = serve({"/s/abc/model_dir.zip": data})
    _with_spec(monkeypatch, "csp-inat", url=server.url("/s/abc/model_dir.zip?dl=1"), size_bytes=len(data))
    model = ge.LocationEncoder.from_pretrained("csp-inat")
    assert model.pretrained_spec.name == "csp-inat" and model.config.num_classes == 0
    assert len(server.requests) == 1
    reference = ge.LocationEncoder.from_pretrained(fixture)
    np.testing.assert_allclose(model.encode(POINTS), reference.encode(POINTS))
    converted = _converted("csp-inat")
    assert sorted(p.name for p in converted.iterdir()) == ["README.md", "config.json", "model.safetensors",
                                                          "source.json"]
    assert "license: other" in (converted / "README.md").read_text()
    assert (_cache() / "downloads" / "model_dir.zip").is_file()
    assert not [p for p in _leftovers(_cache()) if p.endswith((".part", ".tmp"))]

    # second call: converted cache, no network at all (even though downloads are allowed)
    def refuse(self, address):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    again = ge.LocationEncoder.from_pretrained("csp-inat")
    np.testing.assert_array_equal(again.encode(POINTS), model.encode(POINTS))
    assert len(server.requests) == 1

    # the fine-tuned member of the same archive comes from the downloaded zip, still without network
    _with_spec(monkeypatch, "csp-inat-ft5", url=server.url("/s/abc/model_dir.zip?dl=1"), size_bytes=len(data),
               expected={**registry.get_pretrained_spec("csp-inat-ft5").expected, "num_classes": 10})
    fine = ge.LocationEncoder.from_pretrained("csp-inat-ft5")
    assert fine.config.num_classes == 10 and fine.logits(POINTS).shape == (5, 10)


def test_corrupted_converted_cache_is_rebuilt(tmp_path, monkeypatch, no_network, csp_inat):
    archive = tmp_path / "model_dir.zip"
    archive.write_bytes(_authors_zip(csp_inat))
    _archive_size_is_registered(monkeypatch, archive.read_bytes())
    first = ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat")
    weights = _converted("csp-inat") / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    downloads = _cache() / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "model_dir.zip").write_bytes(archive.read_bytes())  # a manually placed download
    again = ge.LocationEncoder.from_pretrained("csp-inat")
    np.testing.assert_array_equal(again.encode(POINTS), first.encode(POINTS))


def test_expected_structure_mismatch(monkeypatch, serve, online, csp_inat):
    data = _authors_zip(csp_inat)
    server = serve({"/model_dir.zip": data})
    _with_spec(monkeypatch, "csp-inat-ft5", url=server.url("/model_dir.zip"), size_bytes=len(data))  # 8142 classes
    with pytest.raises(WeightsError, match="num_classes=10 .expected 8142"):
        ge.LocationEncoder.from_pretrained("csp-inat-ft5")
    assert _leftovers(_cache()) == []


def test_checksum_mismatch_leaves_nothing(monkeypatch, serve, online, csp_inat):
    data = _authors_zip(csp_inat)
    server = serve({"/model_dir.zip": data[:-10] + b"tampered!!"})
    _with_spec(monkeypatch, "csp-inat", url=server.url("/model_dir.zip"), sha256=hashlib.sha256(data).hexdigest())
    with pytest.raises(WeightsError, match="checksum mismatch"):
        ge.LocationEncoder.from_pretrained("csp-inat")
    assert _leftovers(_cache()) == []


def test_zip_slip_refused(monkeypatch, serve, online, tmp_path):
    # the archive is refused before any member is read: the checkpoint member can be any bytes
    evil = _authors_zip(b"not a checkpoint", extra={"../../evil.pth.tar": b"x", "/abs/evil": b"x"})
    server = serve({"/model_dir.zip": evil})
    _with_spec(monkeypatch, "csp-inat", url=server.url("/model_dir.zip"), size_bytes=len(evil))
    with pytest.raises(WeightsError, match="unsafe member paths"):
        ge.LocationEncoder.from_pretrained("csp-inat")
    assert _leftovers(_cache()) == []
    assert not (_cache().parent / "evil.pth.tar").exists()
    # and directly
    archive = tmp_path / "evil.zip"
    archive.write_bytes(evil)
    with pytest.raises(WeightsError, match="zip slip"):
        extract_member(archive, f"model_dir/model_inat_2018/{CSP_INAT}", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_safe_member_names():
    assert safe_member_name("model_dir/model_inat_2018/a.pth.tar")
    for bad in ("../a", "a/../../b", "/etc/passwd", "C:\\x", "a\\..\\..\\b", ""):
        assert not safe_member_name(bad), bad


def test_truncated_download_leaves_nothing(monkeypatch, serve, online, csp_inat):
    data = _authors_zip(csp_inat)
    server = serve({"/model_dir.zip": data}, truncate_first=1000)
    _with_spec(monkeypatch, "csp-inat", url=server.url("/model_dir.zip"), size_bytes=len(data))
    with pytest.raises(DownloadError, match="truncated|interrupted"):
        ge.LocationEncoder.from_pretrained("csp-inat")
    assert _leftovers(_cache()) == []


def test_resumed_download(serve, tmp_path):
    data = os.urandom(300_000)
    digest = hashlib.sha256(data).hexdigest()
    server = serve({"/f.bin": data}, ranges=True, truncate_first=120_000)
    dest = tmp_path / "dl" / "f.bin"
    with pytest.raises(DownloadError, match="resume"):
        download_file(server.url("/f.bin"), dest, sha256=digest, progress=False)
    assert not dest.exists()
    assert (tmp_path / "dl" / "f.bin.part").stat().st_size == 120_000
    download_file(server.url("/f.bin"), dest, sha256=digest, progress=False)
    assert dest.read_bytes() == data
    assert server.requests[-1][1] == "bytes=120000-"
    assert not (tmp_path / "dl" / "f.bin.part").exists()


def test_stale_part_ignored_without_range_support(serve, tmp_path):
    data = os.urandom(50_000)
    server = serve({"/f.bin": data})  # answers 200 to a Range request
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes from another file")
    download_file(server.url("/f.bin"), dest, sha256=hashlib.sha256(data).hexdigest(), progress=False)
    assert dest.read_bytes() == data and not (tmp_path / "f.bin.part").exists()


def test_http_error_and_unreachable(serve, tmp_path):
    server = serve({})
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(server.url("/missing"), tmp_path / "x", progress=False)
    with pytest.raises(DownloadError, match="only http"):
        download_file("file:///etc/passwd", tmp_path / "y", progress=False)
    assert _leftovers(tmp_path) == []


def test_url_file_source(monkeypatch, serve, online, tmp_path):
    name = "torchspatial-grid-yfcc"
    spec = registry.get_pretrained_spec(name)
    folder = spec.url.split("/pre_trained_models/")[1].split("/")[0]
    # a file of the registered one's layout and sizes (64 scales, FFN 256-512-256, leakyrelu, 100 classes;
    # its name says so), with seeded random weights: the download's sha256 and size are set to its own
    file_name = f"{folder}__{spec.filename}"
    params = torchspatial_params(file_name, dataset="yfcc", spa_enc_type="Space2Vec-grid", lr=0.01, frequency_num=64,
                                 min_radius=0.005, max_radius=360.0, batch_size=4096, spa_f_act="leakyrelu",
                                 num_classes=100)
    data = write_checkpoint(tmp_path / file_name, params, seed=0, adam_moments=False).read_bytes()
    server = serve({f"/pre_trained_models/{folder}/{spec.filename}": data})
    _with_spec(monkeypatch, name, url=server.url(f"/pre_trained_models/{folder}/{spec.filename}"),
               sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))
    model = ge.LocationEncoder.from_pretrained(name)
    assert model.config.num_classes == 100 and model.pretrained_spec.name == name
    assert "license: MIT" in (_converted(name) / "README.md").read_text()


# --------------------------------------------------------------------------- offline
def test_offline_never_opens_a_socket(no_network, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedNotFoundError) as info:
        ge.LocationEncoder.from_pretrained("csp-inat")
    message = str(info.value)
    for expected in ("packaged weights", "converted cache", "downloads", "HF_HUB_OFFLINE",
                     "https://www.dropbox.com/s/qxr644rj1qxekn2/model_dir.zip", "model_dir.zip#csp-inat"):
        assert expected in message
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(PretrainedNotFoundError, match="local_files_only=True"):
        ge.LocationEncoder.from_pretrained("csp-inat", local_files_only=True)
    with pytest.raises(PretrainedNotFoundError, match="satclip-vit16-l10.ckpt"):
        ge.LocationEncoder.from_pretrained("satclip-vit16-l10", local_files_only=True)
    with pytest.raises(PretrainedNotFoundError):
        ge.LocationEncoder.from_pretrained("hf-hub:someone/missing", local_files_only=True)
    assert no_network == []


def test_offline_flag_read_at_call_time(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert zoo.is_offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not zoo.is_offline()
    assert zoo.is_offline(local_files_only=True)


# --------------------------------------------------------------------------- Hugging Face
def _hf_snapshot(root: Path, repo_id: str, files: dict, commit: str = "a" * 40) -> Path:
    """Lay out a Hugging Face cache entry by hand (models--org--name/{refs,snapshots})."""
    base = root / ("models--" + repo_id.replace("/", "--"))
    snapshot = base / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text(commit)
    for name, source in files.items():
        target = snapshot / name
        if isinstance(source, Path):
            target.write_bytes(source.read_bytes())
        else:
            target.write_bytes(source)
    return snapshot


def test_hf_hub_prefix_from_cache(tmp_path, no_network, monkeypatch):
    model = _tiny_model()
    model.save_pretrained(tmp_path / "m")
    cache_dir = tmp_path / "cache"
    _hf_snapshot(cache_dir / "huggingface", "org/tiny", {"config.json": tmp_path / "m" / "config.json",
                                                         "model.safetensors": tmp_path / "m" / "model.safetensors"})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = ge.LocationEncoder.from_pretrained("hf-hub:org/tiny", cache_dir=cache_dir)
    np.testing.assert_array_equal(loaded.encode(POINTS), model.encode(POINTS))
    pinned = ge.LocationEncoder.from_pretrained("hf-hub:org/tiny@" + "a" * 40, cache_dir=cache_dir)
    np.testing.assert_array_equal(pinned.encode(POINTS), model.encode(POINTS))
    # HF_HOME read at call time when no cache_dir is given
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    _hf_snapshot(tmp_path / "home" / "hub", "org/tiny", {"config.json": tmp_path / "m" / "config.json",
                                                         "model.safetensors": tmp_path / "m" / "model.safetensors"})
    assert ge.LocationEncoder.from_pretrained("hf-hub:org/tiny").embed_dim == model.embed_dim


def test_registered_hf_source_from_cache(tmp_path, no_network, monkeypatch):
    """A registered Hugging Face checkpoint already in the HF cache is converted offline and cached."""
    model = _tiny_model(num_classes=0)
    seen = []

    def fake_convert(path, converter=None, source=None):
        seen.append((Path(path).name, converter))
        return model.config, {k: v.clone() for k, v in model.state_dict().items()}

    monkeypatch.setattr(zoo_fetch, "convert", fake_convert)
    name = "satclip-resnet18-l10"
    spec = _with_spec(monkeypatch, name, expected={})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hfcache"))
    _hf_snapshot(tmp_path / "hfcache", spec.hf_repo, {spec.filename: b"not really a checkpoint"})
    loaded = ge.LocationEncoder.from_pretrained(name)
    assert seen == [(spec.filename, "satclip")]
    assert loaded.pretrained_spec.name == name
    np.testing.assert_array_equal(loaded.encode(POINTS), model.encode(POINTS))
    ge.LocationEncoder.from_pretrained(name)  # converted cache: the converter is not called again
    assert len(seen) == 1


def test_pip_wheel_source_without_importing(tmp_path, monkeypatch, no_network):
    package = tmp_path / "site" / "geoclip"
    (package / "model" / "weights").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('geoclip must not be imported')\n")
    (package / "model" / "weights" / "location_encoder_weights.pth").write_bytes(b"weights")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "geoclip", raising=False)
    model = _tiny_model(num_classes=0)
    seen = []

    def fake_convert(path, converter=None, source=None):
        seen.append((Path(path), converter))
        return model.config, {k: v.clone() for k, v in model.state_dict().items()}

    monkeypatch.setattr(zoo_fetch, "convert", fake_convert)
    _with_spec(monkeypatch, "geoclip", expected={})
    loaded = ge.LocationEncoder.from_pretrained("geoclip")
    assert seen[0][0] == package / "model" / "weights" / "location_encoder_weights.pth"
    assert seen[0][1] == "geoclip" and "geoclip" not in sys.modules
    assert loaded.pretrained_spec.name == "geoclip"


def test_pip_wheel_missing_says_pip_install(monkeypatch, no_network):
    monkeypatch.setattr(zoo_fetch, "pip_wheel_file", lambda spec: None)
    with pytest.raises(PretrainedNotFoundError, match="pip install geoclip"):
        ge.LocationEncoder.from_pretrained("geoclip")


def test_geoclip_from_installed_wheel(no_network):
    """End to end with the real ``geoclip`` wheel when it and the GeoCLIP converter are installed."""
    import importlib.util

    if importlib.util.find_spec("geoloc_embed.convert.geoclip") is None:
        pytest.skip("geoloc_embed.convert.geoclip is not available yet")
    spec = registry.get_pretrained_spec("geoclip")
    if pip_wheel_file(spec) is None:
        pytest.skip("the geoclip wheel is not installed")
    model = ge.LocationEncoder.from_pretrained("geoclip")
    assert model.embed_dim == 512 and model.pretrained_spec is spec
    assert (_converted("geoclip") / "model.safetensors").is_file()
    again = ge.LocationEncoder.from_pretrained("geoclip")
    np.testing.assert_array_equal(again.encode(POINTS), model.encode(POINTS))


def test_unreachable_hub_lists_what_was_tried(monkeypatch, online, tmp_path):
    """What hf_hub_download raises when the Hub is unreachable and the file is not cached (the cache itself is
    read without it).

    (Checked once against the real function with ``socket.connect`` failing: same error, but
    huggingface_hub's retries take ~25 s, so the test uses a stand-in.)
    """
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls = []

    def unreachable(repo_id, filename, **kwargs):
        calls.append(kwargs.get("local_files_only", False))
        raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub and we "
                                      "cannot find the requested files in the local cache.")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(PretrainedNotFoundError) as info:
        ge.LocationEncoder.from_pretrained("satclip-resnet50-l40")
    message = str(info.value)
    assert "could not download satclip-resnet50-l40.ckpt" in message and "Tried, in order" in message
    assert calls == [False]  # the cache was looked up without hf_hub_download, then one download
    assert _leftovers(_cache()) == []


def test_unreachable_url_lists_what_was_tried(monkeypatch, online):
    _with_spec(monkeypatch, "torchspatial-xyz-fmow", url="http://127.0.0.1:9/closed/x.pth.tar")
    with pytest.raises(DownloadError) as info:
        ge.LocationEncoder.from_pretrained("torchspatial-xyz-fmow")
    assert "could not reach" in str(info.value) and "sha256 cfaa24a4" in str(info.value)
    assert _leftovers(_cache()) == []
