"""The contract of DESIGN section 2: ``encode`` is a batched loop over ``self(x)`` for any subclass,
hook or network, and the in-place kernels inside the modules' ``forward`` change no value and no
gradient (they run only when autograd does not record, never during tracing or compiling)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import geoloc_embed as ge
import geoloc_embed.encoders.model as model_module
from geoloc_embed.encoders import _inplace
from geoloc_embed.errors import GeolocEmbedError

POINTS = np.random.default_rng(0).uniform([-180.0, -90.0], [180.0, 90.0], size=(2500, 2))


class NormalisedEncoder(ge.LocationEncoder):
    """A user's subclass: unit-norm embeddings."""

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return F.normalize(super().forward(lonlat), dim=-1)


def small_config(**overrides) -> ge.LocationEncoderConfig:
    return ge.LocationEncoderConfig(position_encoder="grid").replace(**{"hidden_dim": 64, "embed_dim": 32, **overrides})


def test_a_subclass_forward_is_what_encode_returns():
    torch.manual_seed(0)
    model = NormalisedEncoder(small_config(num_classes=4)).eval()
    embedding = model.encode(POINTS)
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, rtol=0, atol=1e-6)
    with torch.no_grad():
        unit = model(torch.as_tensor(POINTS, dtype=torch.float32))
        expected_logits = model.class_logits(unit).numpy()
    np.testing.assert_allclose(embedding, unit.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.logits(POINTS), expected_logits, rtol=0, atol=1e-5)  # logits of the unit vectors


@pytest.mark.parametrize("where", ["network", "position_encoder", "model"])
def test_forward_hooks_fire_during_encode_and_their_changes_count(where, monkeypatch):
    monkeypatch.setattr(model_module, "_CPU_CHUNK_ROWS", 1000)
    torch.manual_seed(0)
    model = ge.LocationEncoder(small_config()).eval()
    module = model if where == "model" else getattr(model, where)
    reference = model.encode(POINTS)
    calls = []

    def hook(_module, _inputs, output):
        calls.append(output.shape[0])
        return output if where != "model" else 2.0 * output

    handle = module.register_forward_hook(hook)
    try:
        got = model.encode(POINTS)
    finally:
        handle.remove()
    assert calls == [1000, 1000, 500]  # one call per chunk of every batch
    np.testing.assert_allclose(got, reference * (2.0 if where == "model" else 1.0), rtol=1e-6, atol=1e-6)


def test_any_network_module_is_run_as_is():
    torch.manual_seed(0)
    model = ge.LocationEncoder(small_config()).eval()
    model.network = torch.nn.Sequential(torch.nn.Linear(model.position_encoder.out_dim, 32), torch.nn.Softplus())
    with torch.no_grad():
        expected = model(torch.as_tensor(POINTS, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(model.encode(POINTS), expected, rtol=0, atol=1e-6)


def test_a_forward_of_another_width_gets_a_clear_error():
    class Wider(ge.LocationEncoder):
        def forward(self, lonlat):
            out = super().forward(lonlat)
            return torch.cat((out, out), dim=1)

    with pytest.raises(GeolocEmbedError, match="embed_dim"):
        Wider(small_config()).encode(POINTS[:10])


# --------------------------------------------------------------------------- in-place kernels
def _out_of_place(monkeypatch) -> None:
    """Every module's forward as if autograd recorded: no in-place kernel anywhere."""
    monkeypatch.setattr(_inplace, "_is_capturing", lambda: True)


@pytest.mark.parametrize("overrides", [
    {"num_hidden_layers": 3, "activation": "relu"},                                      # residual CSP layers
    {"position_encoder": "spherical-harmonics", "network": "siren", "num_hidden_layers": 2, "sh_degree": 6},
    {"position_encoder": "theory", "activation": "tanh", "num_hidden_layers": 2},
], ids=["csp-residual", "sh-siren", "theory-tanh"])
def test_in_place_paths_change_neither_values_nor_gradients(overrides, monkeypatch):
    """Train mode, dropout off: the encoder's in-place kernels (coordinates need no grad) and a
    no_grad forward give the same numbers and parameter gradients as the out-of-place code."""
    torch.manual_seed(0)
    model = ge.LocationEncoder(small_config(dropout=0.0, **overrides)).train()
    x = torch.as_tensor(POINTS[:300], dtype=torch.float32)

    def run():
        model.zero_grad()
        out = model(x)
        out.square().sum().backward()
        with torch.no_grad():
            plain = model(x)
        return out.detach(), plain, [p.grad.clone() for p in model.parameters()]

    fast = run()
    with monkeypatch.context() as patch:
        _out_of_place(patch)
        slow = run()
    assert torch.equal(fast[0], slow[0]) and torch.equal(fast[1], slow[1]) and torch.equal(fast[0], fast[1])
    for a, b in zip(fast[2], slow[2], strict=True):
        assert torch.equal(a, b)


def test_no_grad_forward_does_not_write_its_input():
    torch.manual_seed(0)
    model = ge.LocationEncoder(small_config(num_hidden_layers=2, hidden_dim=32, embed_dim=32)).eval()
    features = torch.randn(50, model.position_encoder.out_dim)
    before = features.clone()
    hidden = model.network.layers[0](features)
    with torch.no_grad():
        for layer in model.network.layers[1:]:
            kept = hidden.clone()
            layer(hidden)  # residual layer: adds into its own Linear output, not into ``hidden``
            assert torch.equal(hidden, kept)
    assert torch.equal(features, before)


def test_may_overwrite_flag():
    x = torch.zeros(3, 2)
    weight = torch.nn.Parameter(torch.zeros(2, 2))
    assert _inplace.may_overwrite(x, None)
    assert not _inplace.may_overwrite(x, weight)
    with torch.no_grad():
        assert _inplace.may_overwrite(x, weight)
    with torch.inference_mode():
        assert _inplace.may_overwrite(x, weight)
    assert not _inplace.may_overwrite(x.requires_grad_())


def test_torch_compile_matches_eager():
    """Under torch.compile the modules see a capture and keep out-of-place kernels (aot_eager: no C++
    compiler involved)."""
    torch.manual_seed(0)
    model = ge.LocationEncoder(small_config(num_hidden_layers=2, activation="relu")).eval()
    compiled = torch.compile(model, backend="aot_eager", dynamic=False)
    x = torch.as_tensor(POINTS[:64], dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=0, atol=1e-6)
