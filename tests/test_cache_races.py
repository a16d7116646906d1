"""Issue 13 items 2-3: many processes on one cache (the ranks of a ``torchrun`` job).

* Concurrent downloads of one file from a server on 127.0.0.1: one transfer, a verified file that is
  never modified, every process gets it.
* Readers of the converted cache beside writers: every read sees a complete old or new model, and an
  identical conversion is not rewritten.

Processes are started together behind a file barrier (their imports take seconds), are few (2-4),
and run for a bounded time; servers are stopped by the tests.
"""

import hashlib
import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from csp_layout import csp_params, fixture_file, write_checkpoint

import geoloc_embed as ge
from geoloc_embed import io as ge_io
from geoloc_embed.zoo import cache as zoo_cache

REPO_ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # 2-4 fresh interpreters per test
POINTS = [[0.0, 90.0], [180.0, 0.0], [2.35, 48.86], [-74.0, 40.7]]
CSP_INAT = ("model_inat_2018_gridcell_0.0010_32_0.1000000_1_512_leakyrelu_UNSUPER-contsoftmax_0.000500_1.000_1_"
            "1.000_TMP20.0000_1.0000_1.0000.pth.tar")


class _SlowServer:
    """Serves ``files`` on 127.0.0.1 in 64 KiB pieces with a pause between them; counts GET requests."""

    def __init__(self, files: dict, pause: float = 0.02):
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                outer.requests.append((self.path, self.headers.get("Range")))
                data = files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                for start in range(0, len(data), 1 << 16):
                    self.wfile.write(data[start:start + (1 << 16)])
                    time.sleep(pause)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def slow_server():
    servers = []

    def start(files, **kwargs):
        servers.append(_SlowServer(files, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _run_together(tmp_path: Path, scripts: list[str], timeout: float = 240.0) -> list[dict]:
    """Start one interpreter per script; release them together once all have imported; their last JSON lines."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    procs = []
    for index, body in enumerate(scripts):
        code = textwrap.dedent(f"""
            import json, os, sys, time
            from pathlib import Path
            import geoloc_embed as ge
            barrier = Path({str(barrier)!r})
            (barrier / "ready-{index}").touch()
            deadline = time.time() + 120
            while not (barrier / "go").exists() and time.time() < deadline:
                time.sleep(0.01)
        """) + textwrap.dedent(body)
        procs.append(subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=env))
    try:
        deadline = time.time() + timeout
        while len(list(barrier.glob("ready-*"))) < len(scripts) and time.time() < deadline:
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.05)
        (barrier / "go").touch()
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.time()))
            assert proc.returncode == 0, err[-3000:]
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        return outputs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file() and p.name.endswith((".part", ".tmp")))


# --------------------------------------------------------------------------- item 2: downloads
def test_concurrent_downloads_of_one_file(tmp_path, slow_server):
    data = os.urandom(1_500_000)  # 23 pieces: about 0.5 s per transfer
    digest = hashlib.sha256(data).hexdigest()
    server = slow_server({"/f.bin": data})
    dest = tmp_path / "downloads" / "f.bin"
    worker = f"""
        from geoloc_embed.zoo.download import download_file
        path = download_file({server.url('/f.bin')!r}, {str(dest)!r}, sha256={digest!r}, progress=False)
        print(json.dumps({{"path": str(path), "size": path.stat().st_size}}))
    """
    results = _run_together(tmp_path, [worker] * 4)
    assert [r["size"] for r in results] == [len(data)] * 4
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == digest
    assert server.requests == [("/f.bin", None)]  # one transfer; the others waited and reused the file
    assert _leftovers(tmp_path) == []


def test_ranks_calling_from_pretrained_together(tmp_path, slow_server):
    """What 4 ``torchrun`` ranks do: ``from_pretrained`` of one registered URL at the same moment."""
    fixture = fixture_file("xyz__")
    data = fixture.path.read_bytes()
    server = slow_server({"/xyz.pth.tar": data}, pause=0.05)
    cache = tmp_path / "cache"
    worker = f"""
        import dataclasses
        from geoloc_embed import zoo
        spec = dataclasses.replace(zoo.get_pretrained_spec("torchspatial-xyz-fmow"), name="race-xyz",
                                   url={server.url('/xyz.pth.tar')!r}, filename="xyz.pth.tar",
                                   sha256={hashlib.sha256(data).hexdigest()!r}, size_bytes={len(data)}, expected={{}})
        zoo.register_pretrained(spec)
        os.environ["HF_HUB_OFFLINE"] = "0"
        model = ge.LocationEncoder.from_pretrained("race-xyz", cache_dir={str(cache)!r})
        print(json.dumps({{"emb": model.encode({POINTS!r}).tolist()}}))
    """
    results = _run_together(tmp_path, [worker] * 4)
    reference = ge.LocationEncoder.from_pretrained(fixture.path).encode(POINTS)
    for result in results:
        np.testing.assert_allclose(np.array(result["emb"], dtype=np.float32), reference, rtol=1e-6, atol=1e-6)
    assert server.requests == [("/xyz.pth.tar", None)]
    versions = [p.name for p in (cache / "converted" / "race-xyz").iterdir() if p.name.startswith("v-")]
    assert len(versions) == 1
    assert _leftovers(cache) == []


# --------------------------------------------------------------------------- item 3: converted cache
def _archive(tmp_path: Path) -> Path:
    member = write_checkpoint(tmp_path / CSP_INAT, csp_params(CSP_INAT), seed=0, layout="csp", epoch=1,
                              adam_moments=False)
    archive = tmp_path / "model_dir.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.write(member, f"model_dir/model_inat_2018/{CSP_INAT}")
    member.unlink()
    return archive


def test_readers_beside_writers_of_the_same_conversion(tmp_path):
    """Two processes converting ``archive#csp-inat`` again and again, one reading ``csp-inat`` offline."""
    archive = _archive(tmp_path)
    pin = hashlib.sha256(archive.read_bytes()).hexdigest()  # the test archive is not the registered size
    cache = tmp_path / "cache"
    first = ge.LocationEncoder.from_pretrained(f"{archive}#csp-inat", cache_dir=cache, expected_sha256=pin)
    expected = first.encode(POINTS)
    writer = f"""
        os.environ["GEOLOC_EMBED_SHA256_CSP_INAT"] = {pin!r}
        count, end = 0, time.time() + 3.0
        while time.time() < end:
            ge.LocationEncoder.from_pretrained({f"{archive}#csp-inat"!r}, cache_dir={str(cache)!r})
            count += 1
        print(json.dumps({{"writes": count}}))
    """
    reader = f"""
        import numpy as np
        ok, failures, end = 0, [], time.time() + 3.0
        while time.time() < end:
            try:
                model = ge.LocationEncoder.from_pretrained("csp-inat", cache_dir={str(cache)!r}, local_files_only=True)
                np.testing.assert_allclose(model.encode({POINTS!r}), np.array({expected.tolist()!r}, dtype=np.float32),
                                           rtol=1e-6, atol=1e-6)
                ok += 1
            except Exception as exc:
                failures.append(type(exc).__name__ + ": " + str(exc)[:200])
        print(json.dumps({{"ok": ok, "failures": failures[:5], "failed": len(failures)}}))
    """
    writer_a, writer_b, result = _run_together(tmp_path, [writer, writer, reader])
    assert writer_a["writes"] >= 1 and writer_b["writes"] >= 1
    assert result["failed"] == 0, result["failures"]
    assert result["ok"] >= 5
    root = cache / "converted" / "csp-inat"
    assert len([p for p in root.iterdir() if p.name.startswith("v-")]) == 1  # never rewritten
    assert _leftovers(cache) == []


def test_readers_see_a_complete_old_or_new_version(tmp_path):
    """Two writers storing two different conversions in turn (the cache flips), one reader loading it."""
    spec = ge.get_pretrained_spec("csp-inat")
    cache = tmp_path / "cache"
    torch.manual_seed(0)
    models = [ge.create_model("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6) for _ in range(2)]
    states = []
    for index, model in enumerate(models):
        path = tmp_path / f"state-{index}.safetensors"
        ge_io.atomic_write_bytes(path, ge_io.serialize_weights(model.state_dict()))
        states.append(path)
    expected = [m.encode(POINTS).tolist() for m in models]
    config_json = models[0].config.to_json()
    zoo_cache.store(spec, models[0].config, models[0].state_dict(), card=lambda: "card", source={},
                    cache_dir=cache)
    writer = """
        from safetensors.torch import load_file
        from geoloc_embed.zoo import cache
        spec = ge.get_pretrained_spec("csp-inat")
        config = ge.LocationEncoderConfig.from_json({config!r})
        states = [load_file(p) for p in {paths!r}]
        count, end = 0, time.time() + 3.0
        while time.time() < end:
            cache.store(spec, config, states[count % 2], card=lambda: "card", source={{"n": count}},
                        cache_dir={cache!r})
            count += 1
        print(json.dumps({{"writes": count}}))
    """.format(config=config_json, paths=[str(p) for p in states], cache=str(cache))
    reader = f"""
        import numpy as np
        from geoloc_embed.zoo import cache
        spec = ge.get_pretrained_spec("csp-inat")
        expected = [np.array(e, dtype=np.float32) for e in {expected!r}]
        ok, seen, failures, end = 0, set(), [], time.time() + 3.0
        while time.time() < end:
            try:
                directory = cache.lookup(spec, {str(cache)!r})
                emb = ge.LocationEncoder.from_directory(directory).encode({POINTS!r})
                match = [i for i, e in enumerate(expected) if np.allclose(emb, e, rtol=1e-6, atol=1e-6)]
                assert match, "a model that is neither version"
                seen.add(match[0])
                ok += 1
            except Exception as exc:
                failures.append(type(exc).__name__ + ": " + str(exc)[:200])
        print(json.dumps({{"ok": ok, "seen": sorted(seen), "failures": failures[:5], "failed": len(failures)}}))
    """
    writer_a, writer_b, result = _run_together(tmp_path, [writer, writer, reader])
    assert writer_a["writes"] >= 2 and writer_b["writes"] >= 2
    assert result["failed"] == 0, result["failures"]
    assert result["ok"] >= 5
    versions = [p for p in (cache / "converted" / "csp-inat").iterdir() if p.name.startswith("v-")]
    assert len(versions) == 2  # two contents, two immutable versions; retired ones wait RETIRED_GRACE_S
    assert _leftovers(cache) == []


def test_identical_conversion_is_not_rewritten(tmp_path):
    spec = ge.get_pretrained_spec("csp-inat")
    model = ge.create_model("csp-grid", frequency_num=4, hidden_dim=8, embed_dim=6)
    first = zoo_cache.store(spec, model.config, model.state_dict(), card=lambda: "card", source={}, cache_dir=tmp_path)
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in first.iterdir()}
    current = first.parent / "CURRENT"
    current_stamp = (current.stat().st_ino, current.stat().st_mtime_ns)
    again = zoo_cache.store(spec, model.config, model.state_dict(), card=lambda: "card", source={},
                            cache_dir=tmp_path)
    assert again == first
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in again.iterdir()} == stamps
    assert (current.stat().st_ino, current.stat().st_mtime_ns) == current_stamp
    assert json.loads((first / "source.json").read_text())["name"] == "csp-inat"
