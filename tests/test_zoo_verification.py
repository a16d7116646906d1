"""Issue 13 items 5, 7, 10 and 13: unverifiable archives, zip bombs, read-only caches, malformed answers.

* ``csp-*``: the registered size is checked; on first use the archive's and the member's sha256 are
  recorded and printed with how to compare them; a later, different file under the same name is
  refused; a hash can be pinned with ``expected_sha256=`` or ``GEOLOC_EMBED_SHA256_<NAME>``.
* Zip members larger than expected, than the cap, or compressed like a bomb are refused before extracting.
* A cache that cannot be written: a local archive still loads (extracted to the system temp dir, not
  cached, with a warning); a download says which directory and ``GEOLOC_EMBED_CACHE``.
* ``Content-Length: abc``, a download timeout set from ``from_pretrained``, zip-member errors named
  ``archive#member``.
"""

import dataclasses
import hashlib
import http.server
import json
import logging
import os
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from csp_layout import csp_params, fixture_file, write_checkpoint

import geoloc_embed as ge
from geoloc_embed import cli
from geoloc_embed.errors import PretrainedNotFoundError, WeightsError
from geoloc_embed.zoo import registry
from geoloc_embed.zoo.archive import extract_member
from geoloc_embed.zoo.download import DownloadError
from geoloc_embed.zoo.locks import CacheNotWritableError

CSP_INAT = ("model_inat_2018_gridcell_0.0010_32_0.1000000_1_512_leakyrelu_UNSUPER-contsoftmax_0.000500_1.000_1_"
            "1.000_TMP20.0000_1.0000_1.0000.pth.tar")
MEMBER = f"model_dir/model_inat_2018/{CSP_INAT}"
POINTS = [[2.35, 48.86], [-74.0, 40.7]]


# --------------------------------------------------------------------------- helpers
def _archive(path: Path, seed: int = 0, member: bytes | None = None) -> Path:
    """An archive laid out like the authors' (stored, so archives of different weights have equal sizes)."""
    if member is None:
        checkpoint = write_checkpoint(path.parent / f"member-{seed}.pth.tar", csp_params(CSP_INAT), seed=seed,
                                      layout="csp", epoch=1, adam_moments=False)
        member = checkpoint.read_bytes()
        checkpoint.unlink()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(MEMBER, member)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _registered_size(monkeypatch, size: int) -> None:
    for name in ("csp-inat", "csp-inat-ft5", "csp-fmow", "csp-fmow-ft5"):
        monkeypatch.setitem(registry._SPECS, name, dataclasses.replace(registry.get_pretrained_spec(name),
                                                                       size_bytes=size))


def _cache() -> Path:
    return Path(os.environ["GEOLOC_EMBED_CACHE"])


class _Server:
    """One handler for every GET on 127.0.0.1: ``respond(handler)``; stopped by the fixture."""

    def __init__(self, respond):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                respond(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def serve(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    servers = []

    def start(respond):
        servers.append(_Server(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()


def _send(body: bytes, length: str | None = None):
    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", length if length is not None else str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix != ".lock") \
        if root.exists() else []


# --------------------------------------------------------------------------- item 5
def test_registered_size_is_checked_before_downloading(serve, monkeypatch, tmp_path):
    archive = _archive(tmp_path / "model_dir.zip")
    server = serve(_send(archive.read_bytes()))
    spec = registry.get_pretrained_spec("csp-inat")
    assert spec.size_bytes == 94_186_705 and spec.sha256 is None
    monkeypatch.setitem(registry._SPECS, "csp-inat", dataclasses.replace(spec, url=server.url("/model_dir.zip")))
    with pytest.raises(WeightsError, match=f"offers {archive.stat().st_size:,} bytes but the registry expects "
                                           "94,186,705 bytes"):
        ge.LocationEncoder.from_pretrained("csp-inat")
    assert _files(_cache()) == []
    with pytest.raises(WeightsError, match=r"registered with 94,186,705 bytes and no checksum.*expected_sha256="):
        ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat")  # a local archive of another size


def test_first_use_records_and_prints_the_checksums(serve, monkeypatch, tmp_path, caplog, capsys):
    archive = _archive(tmp_path / "model_dir.zip")
    server = serve(_send(archive.read_bytes()))
    _registered_size(monkeypatch, archive.stat().st_size)
    monkeypatch.setitem(registry._SPECS, "csp-inat", dataclasses.replace(registry.get_pretrained_spec("csp-inat"),
                                                                         url=server.url("/model_dir.zip")))
    with caplog.at_level(logging.WARNING, logger="geoloc_embed.zoo.provenance"):
        ge.LocationEncoder.from_pretrained("csp-inat")
    with zipfile.ZipFile(archive) as zf:
        member_sha = hashlib.sha256(zf.read(MEMBER)).hexdigest()
    for text in (f"sha256 {_sha(archive)}", f"sha256 {member_sha}", "sha256sum model_dir.zip",
                 "GEOLOC_EMBED_SHA256_CSP_INAT", "will be refused"):
        assert text in caplog.text
    record = json.loads((_cache() / "records" / "csp-inat.json").read_text())
    assert (record["sha256"], record["member"], record["member_sha256"]) == (_sha(archive), MEMBER, member_sha)
    caplog.clear()
    ge.LocationEncoder.from_pretrained("csp-inat", force_download=True)  # the same file again: no new warning
    assert "first use" not in caplog.text
    assert cli.main(["info", "csp-inat"]) == 0  # geoloc-embed info shows the recorded checksums
    out = capsys.readouterr().out
    assert f"sha256 {_sha(archive)}" in out and member_sha in out and "GEOLOC_EMBED_SHA256_CSP_INAT" in out


def test_a_later_different_file_under_the_same_name_is_refused(monkeypatch, tmp_path):
    first, other = _archive(tmp_path / "a" / "model_dir.zip"), _archive(tmp_path / "b" / "model_dir.zip", seed=1)
    assert first.stat().st_size == other.stat().st_size and _sha(first) != _sha(other)
    _registered_size(monkeypatch, first.stat().st_size)
    reference = ge.LocationEncoder.from_pretrained(f"{first}#csp-inat")
    with pytest.raises(WeightsError) as info:
        ge.LocationEncoder.from_pretrained(f"{other}#csp-inat")
    message = str(info.value)
    assert _sha(first) in message and _sha(other) in message and "records" in message
    assert f"expected_sha256='{_sha(other)}'" in message
    # the converted cache still holds the first file's model
    kept = ge.LocationEncoder.from_pretrained("csp-inat", local_files_only=True)
    np.testing.assert_array_equal(kept.encode(POINTS), reference.encode(POINTS))
    # pinning the new file's hash accepts it (keyword or environment variable)
    pinned = ge.LocationEncoder.from_pretrained(f"{other}#csp-inat", expected_sha256=_sha(other))
    assert not np.allclose(pinned.encode(POINTS), reference.encode(POINTS))
    monkeypatch.setenv("GEOLOC_EMBED_SHA256_CSP_INAT", _sha(other))
    assert ge.LocationEncoder.from_pretrained("csp-inat", local_files_only=True).pretrained_spec.name == "csp-inat"


def test_pinned_hashes(monkeypatch, tmp_path):
    archive = _archive(tmp_path / "model_dir.zip")
    with pytest.raises(WeightsError, match=f"has sha256 {_sha(archive)}, but expected_sha256= expects {'0' * 64}"):
        ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat", expected_sha256="0" * 64)
    monkeypatch.setenv("GEOLOC_EMBED_SHA256_CSP_INAT", "1" * 64)
    with pytest.raises(WeightsError, match="GEOLOC_EMBED_SHA256_CSP_INAT expects"):
        ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat")
    with pytest.raises(ValueError, match="64 hex digits"):
        ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat", expected_sha256="abc")
    monkeypatch.delenv("GEOLOC_EMBED_SHA256_CSP_INAT")
    # a pin overrides the size check (the user vouches for the file) and is checked against a cached conversion
    ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat", expected_sha256=_sha(archive))
    assert ge.LocationEncoder.from_pretrained("csp-inat", local_files_only=True, expected_sha256=_sha(archive))
    with pytest.raises(PretrainedNotFoundError):  # cached from another file than the pinned one
        ge.LocationEncoder.from_pretrained("csp-inat", local_files_only=True, expected_sha256="2" * 64)
    # a registry checksum cannot be contradicted
    with pytest.raises(WeightsError, match="the registry verifies its file"):
        ge.LocationEncoder.from_pretrained("torchspatial-xyz-fmow", local_files_only=True, expected_sha256="3" * 64)


# --------------------------------------------------------------------------- item 7
def test_zip_bomb_is_refused_before_extracting(monkeypatch, tmp_path):
    bomb = tmp_path / "model_dir.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(MEMBER, b"\0" * (64 << 20))  # 64 MiB of zeros in a 64 KiB archive
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(WeightsError, match=r"compressed [\d,]+ times.*zip bomb"):
        ge.LocationEncoder.from_pretrained(f"{bomb}#csp-inat", expected_sha256=_sha(bomb))
    with pytest.raises(WeightsError, match="zip bomb"):
        ge.LocationEncoder.from_pretrained(f"{bomb}#{MEMBER}")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(WeightsError, match="zip bomb"):
        extract_member(bomb, MEMBER, out)
    assert list(out.iterdir()) == [] and _files(_cache()) == []


def test_members_over_the_cap_or_the_expected_size_are_refused(tmp_path):
    archive = _archive(tmp_path / "model_dir.zip")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(WeightsError, match="more than the 1,000 a location-encoder checkpoint may have"):
        extract_member(archive, MEMBER, out, max_bytes=1000)
    with pytest.raises(WeightsError, match="expected 1,234"):
        extract_member(archive, MEMBER, out, expected_size=1234)
    assert list(out.iterdir()) == []
    assert extract_member(archive, MEMBER, out).name == CSP_INAT


# --------------------------------------------------------------------------- item 10
def test_unwritable_cache_still_loads_a_local_archive(monkeypatch, tmp_path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache should be")
    monkeypatch.setenv("GEOLOC_EMBED_CACHE", str(blocker / "cache"))
    archive = _archive(tmp_path / "model_dir.zip")
    with caplog.at_level(logging.WARNING):
        model = ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat", expected_sha256=_sha(archive))
    assert model.pretrained_spec.name == "csp-inat" and model.config.num_classes == 0
    assert "could not write the converted cache" in caplog.text and "GEOLOC_EMBED_CACHE" in caplog.text
    assert blocker.read_text() == "a file where the cache should be"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_cache_directory(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    monkeypatch.setenv("GEOLOC_EMBED_CACHE", str(cache))
    try:
        archive = _archive(tmp_path / "model_dir.zip")
        assert ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat", expected_sha256=_sha(archive))
    finally:
        cache.chmod(0o755)


def test_download_into_an_unwritable_cache_names_the_directory(serve, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("GEOLOC_EMBED_CACHE", str(blocker / "cache"))
    server = serve(_send(b"never sent"))
    monkeypatch.setitem(registry._SPECS, "torchspatial-xyz-fmow", dataclasses.replace(
        registry.get_pretrained_spec("torchspatial-xyz-fmow"), url=server.url("/x.pth.tar")))
    with pytest.raises(CacheNotWritableError) as info:
        ge.LocationEncoder.from_pretrained("torchspatial-xyz-fmow")
    assert str(blocker / "cache" / "downloads") in str(info.value) and "GEOLOC_EMBED_CACHE" in str(info.value)
    assert isinstance(info.value, PermissionError) and server.requests == []


# --------------------------------------------------------------------------- item 13
def test_malformed_content_length(serve, monkeypatch):
    server = serve(_send(b"0123456789", length="abc"))
    monkeypatch.setitem(registry._SPECS, "torchspatial-xyz-fmow", dataclasses.replace(
        registry.get_pretrained_spec("torchspatial-xyz-fmow"), url=server.url("/x.pth.tar")))
    with pytest.raises(DownloadError, match="malformed Content-Length 'abc'"):
        ge.LocationEncoder.from_pretrained("torchspatial-xyz-fmow")
    assert _files(_cache()) == []


def test_download_timeout_from_from_pretrained(serve, monkeypatch):
    def hang(handler):
        time.sleep(5)

    server = serve(hang)
    monkeypatch.setitem(registry._SPECS, "torchspatial-xyz-fmow", dataclasses.replace(
        registry.get_pretrained_spec("torchspatial-xyz-fmow"), url=server.url("/x.pth.tar")))
    start = time.perf_counter()
    with pytest.raises(DownloadError, match=r"timed out|timeout"):
        ge.LocationEncoder.from_pretrained("torchspatial-xyz-fmow", timeout=0.5)
    assert time.perf_counter() - start < 4.0
    assert _files(_cache()) == []


def test_zip_member_errors_name_the_archive_member(tmp_path):
    archive = _archive(tmp_path / "model_dir.zip", member=b"this is not a checkpoint" * 10)
    with pytest.raises(WeightsError) as info:
        ge.LocationEncoder.from_pretrained(f"{archive}#{MEMBER}")
    message = str(info.value)
    assert message.startswith(f"{archive}#{MEMBER}") and "geoloc-embed-extract" not in message
    with pytest.raises(WeightsError) as info:
        ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat", expected_sha256=_sha(archive))
    assert f"{archive}#{MEMBER}" in str(info.value) and "geoloc-embed-extract" not in str(info.value)



def test_a_wrong_previous_download_is_replaced_not_used(serve, monkeypatch, tmp_path):
    data = fixture_file("xyz__").path.read_bytes()
    server = serve(_send(data))
    spec = dataclasses.replace(registry.get_pretrained_spec("torchspatial-xyz-fmow"), url=server.url("/x.pth.tar"),
                               sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), expected={})
    monkeypatch.setitem(registry._SPECS, spec.name, spec)
    stale = _cache() / "downloads" / spec.filename
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an older, different file")
    model = ge.LocationEncoder.from_pretrained(spec.name)
    assert stale.read_bytes() == data and len(server.requests) == 1
    reference = ge.LocationEncoder.from_pretrained(fixture_file("xyz__").path)
    np.testing.assert_array_equal(model.encode(POINTS), reference.encode(POINTS))
