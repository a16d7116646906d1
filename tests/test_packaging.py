"""The wheel ships the package, py.typed, the architecture JSON files and the top-level weights/ folder
as geoloc_embed/weights."""

import os
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True)
    wheels = list(out.glob("geoloc_embed-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "geoloc_embed/__init__.py" in names
    assert "geoloc_embed/py.typed" in names
    assert "geoloc_embed/weights/README.md" in names
    for path in (ROOT / "weights").rglob("*"):
        if path.is_file():
            assert f"geoloc_embed/weights/{path.relative_to(ROOT / 'weights').as_posix()}" in names
    architectures = sorted((ROOT / "geoloc_embed" / "architectures").glob("*.json"))
    assert len(architectures) >= 12
    for path in architectures:
        assert f"geoloc_embed/architectures/{path.name}" in names
    assert not any(name.startswith("tests/") for name in names)


def test_installed_wheel_finds_packaged_weights(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # torch & co. come from the environment running the tests (a venv on a fresh machine, whose
    # base interpreter has no torch): its site-packages go on the new venv's path through a .pth
    # file, *after* the venv's own site-packages, so the installed wheel wins. Paths listed in a
    # .pth file are not scanned for further .pth files, so the checkout's editable install stays off.
    child_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     check=True, capture_output=True, text=True).stdout.strip())
    parent_sites = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                                  *site.getsitepackages()])
    (child_site / "zz_parent_environment.pth").write_text("\n".join(parent_sites) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True)
    script = (
        "import importlib.resources, geoloc_embed, pathlib;"
        "root = importlib.resources.files('geoloc_embed');"
        "print(pathlib.Path(geoloc_embed.__file__).resolve());"
        "print((root / 'weights' / 'README.md').is_file(), (root / 'py.typed').is_file());"
        "print(len(geoloc_embed.list_models()), geoloc_embed.create_model('csp-grid').embed_dim)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a checkout on it would shadow the wheel
    result = subprocess.run([str(python), "-c", script], cwd=tmp_path, check=True,
                            capture_output=True, text=True, env=env)
    location, found, models = result.stdout.strip().splitlines()
    assert Path(location).is_relative_to(env_dir.resolve())  # the installed copy, not the checkout
    assert found == "True True"
    # the named architectures are read from the installed package's data files
    assert models == f"{len(list((ROOT / 'geoloc_embed' / 'architectures').glob('*.json')))} 256"
