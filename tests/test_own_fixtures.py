"""The project's own fixture checkpoints: regenerable, small, and laid out like the real files.

``tests/fixtures/regenerate.py`` (via ``csp_layout.generate``) must reproduce the committed files, so
neither the writer nor the numpy reference can drift from what the parity tests read.
"""

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import FIXTURES, real_only
from csp_layout import FIXTURE_SET, OWN_FIXTURES, generate

from geoloc_embed.convert.csp import load_checkpoint

COMMITTED = sorted(p.name for p in OWN_FIXTURES.iterdir() if p.name not in (".gitignore",))


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("regenerated")
    generate(out)
    return out


def _same(a: Any, b: Any, where: str) -> None:
    """Deep equality of loaded checkpoints: tensors bit for bit (dtype, shape, values), the rest by ==."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys differ"
        for key in a:
            _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_committed_set_is_the_generated_set(regenerated):
    assert COMMITTED == sorted(p.name for p in regenerated.iterdir())
    assert len([f for f in FIXTURE_SET if f.convertible]) >= 12  # grid, theory, sphere*, rff, wrap, CSP, ...


@pytest.mark.parametrize("name", [f.name for f in FIXTURE_SET])
def test_checkpoints_regenerate_identically(regenerated, name):
    """Same contents always; the same bytes too when this torch version wrote the committed files."""
    _same(load_checkpoint(OWN_FIXTURES / name), load_checkpoint(regenerated / name), name)
    recorded = json.loads((OWN_FIXTURES / "versions.json").read_text())
    if recorded["torch"] == torch.__version__:
        assert (OWN_FIXTURES / name).read_bytes() == (regenerated / name).read_bytes()


@pytest.mark.parametrize("name", [f.expected_path.name for f in FIXTURE_SET if f.convertible])
def test_expected_outputs_regenerate(regenerated, name):
    """The stored outputs are what the numpy reference computes today.

    Tolerance 1e-12 of the output scale: float64 sin/cos/erf may differ by an ulp or so between libm /
    numpy builds, amplified by at most a few hundred by the small networks; any change to the reference
    or the weights changes the outputs by far more.
    """
    committed, fresh = (np.load(d / name, allow_pickle=False) for d in (OWN_FIXTURES, regenerated))
    assert sorted(committed.files) == sorted(fresh.files) == ["embedding", "embedding_terms", "logit_terms",
                                                                 "logits", "points"]
    np.testing.assert_array_equal(committed["points"], fresh["points"])
    for key in committed.files:
        scale = float(np.abs(fresh[key]).max())
        np.testing.assert_allclose(committed[key], fresh[key], rtol=0, atol=1e-12 * scale, err_msg=key)


def test_fixture_set_stays_small():
    total = sum((OWN_FIXTURES / name).stat().st_size for name in COMMITTED)
    assert total < 400_000, f"the own fixture set grew to {total} bytes; keep it to a few hundred kB"


def test_storages_say_cuda_like_the_authors_files():
    """Saved "from a GPU": loading needs map_location on a CPU-only machine, as with the real files."""
    item = FIXTURE_SET[0]
    checkpoint = load_checkpoint(item.path)  # map_location="cpu" inside
    assert checkpoint["params"]["device"].startswith("cuda:")
    assert all(t.device.type == "cpu" for t in checkpoint["state_dict"].values())
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(item.path, weights_only=True)


def _real_counterpart(name: str) -> Path | None:
    """The real file of the same encoder folder and dataset (or the CSP file of the same dataset)."""
    if "__" in name:
        folder, rest = name.split("__", 1)
        candidates = sorted((FIXTURES / "torchspatial").glob(f"{folder}__{'_'.join(rest.split('_')[:2])}_*"))
    else:
        candidates = sorted((FIXTURES / "csp").glob("_".join(name.split("_")[:2]) + "_*"))
    return candidates[0] if candidates else None


def _key_pattern(checkpoint: dict) -> list[str]:
    """State-dict key names with FFN layer numbers replaced by hidden/last, in order, without repeats."""
    last = str(checkpoint["params"]["num_hidden_layer"])
    pattern = [re.sub(r"layers\.(\d+)\.", lambda m: "layers.last." if m.group(1) == last else "layers.hidden.", k)
               for k in checkpoint["state_dict"]]
    return list(dict.fromkeys(pattern))


@pytest.mark.parametrize("name", real_only(f.name for f in FIXTURE_SET))
def test_layout_matches_the_real_files(name):
    """Same top-level keys, params keys, state-dict key names and order, optimizer layout as the real file."""
    real_path = _real_counterpart(name)
    assert real_path is not None, f"no real file to compare {name} with"
    own, real = load_checkpoint(OWN_FIXTURES / name), load_checkpoint(real_path)
    assert list(own) == list(real) == ["epoch", "state_dict", "optimizer", "params"]
    assert set(own["params"]) == set(real["params"])
    same_depth = own["params"]["num_hidden_layer"] == real["params"]["num_hidden_layer"]
    assert _key_pattern(own) == _key_pattern(real)
    if same_depth:
        assert list(own["state_dict"]) == list(real["state_dict"])
    for key, value in real["state_dict"].items():
        if key in own["state_dict"]:
            assert own["state_dict"][key].dtype == value.dtype and own["state_dict"][key].ndim == value.ndim, key
    own_group, real_group = own["optimizer"]["param_groups"][0], real["optimizer"]["param_groups"][0]
    assert set(own_group) >= set(real_group) - {"decoupled_weight_decay"}
    if same_depth:
        assert own_group["params"] == real_group["params"]
        if own["optimizer"]["state"]:  # files with Adam moments hold them for the same parameters
            assert list(own["optimizer"]["state"]) == list(real["optimizer"]["state"])
    for key in ("spa_enc_type", "dataset", "cnn_model", "freq_init", "loc_encode", "unsuper_loss", "map_range"):
        assert own["params"][key] == real["params"][key], key
