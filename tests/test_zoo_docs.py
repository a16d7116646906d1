"""docs/zoo.md is generated from the registry (docs/generate_zoo.py) and agrees with it; the README says the same."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import geoloc_embed as ge

REPO_ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_zoo", REPO_ROOT / "docs" / "generate_zoo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zoo_md_is_generated_from_the_registry():
    text = (REPO_ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    assert text == _generator().render(), "docs/zoo.md is out of date: run python docs/generate_zoo.py"
    for name in ge.list_pretrained():
        assert f"| `{name}`" in text
        spec = ge.get_pretrained_spec(name)
        if spec.sha256:
            assert spec.sha256[:12] in text


def test_check_mode_detects_a_stale_file(tmp_path, monkeypatch):
    generator = _generator()
    stale = tmp_path / "zoo.md"
    stale.write_text("old\n")
    monkeypatch.setattr(generator, "ZOO_MD", stale)
    monkeypatch.setattr(sys, "argv", ["generate_zoo.py", "--check"])
    assert generator.main() == 1
    monkeypatch.setattr(sys, "argv", ["generate_zoo.py"])
    assert generator.main() == 0 and stale.read_text() == generator.render()
    monkeypatch.setattr(sys, "argv", ["generate_zoo.py", "--check"])
    assert generator.main() == 0


def test_script_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "docs" / "generate_zoo.py"), "--check"],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=300, check=False,
                          env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_readme_and_zoo_md_state_the_csp_verification_honestly():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    zoo_md = (REPO_ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    for text in (readme, zoo_md):
        assert "no checksum" in text and "94,186,705 bytes" in text and "first use" in text
        assert "expected_sha256" in text and "GEOLOC_EMBED_SHA256_CSP_INAT" in text
        assert "refused" in text
