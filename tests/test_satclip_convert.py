"""SatCLIP converter: a checkpoint with SatCLIP's structure, converted and checked against an
independent evaluation (scipy spherical harmonics + a hand-written SIREN forward)."""

import math

import numpy as np
import pytest
import torch

import geoloc_embed as ge
from geoloc_embed.convert import satclip as satclip_convert
from geoloc_embed.errors import WeightsError

special = pytest.importorskip("scipy.special")

POINTS = np.array([[0, 90], [0, -90], [180, 0], [-180, 0], [0, 0], [2.3522, 48.8566], [-74.006, 40.7128],
                   [139.6917, 35.6895], [-43.1729, -22.9068], [151.2093, -33.8688], [-149.9, 61.2],
                   [18.42, -33.92], [100.5, 13.75], [-180, 89.5]], dtype=np.float64)


def _scipy_complex(l, m, theta, phi):
    if hasattr(special, "sph_harm_y"):
        return special.sph_harm_y(l, m, theta, phi)
    return special.sph_harm(m, l, phi, theta)


def reference_sh(lonlat, L):
    """SatCLIP's 'analytic' harmonics from scipy (see test_harmonics.satclip_reference)."""
    theta, phi = np.deg2rad(lonlat[:, 1] + 90.0), np.deg2rad(lonlat[:, 0] + 180.0)
    cols = []
    for l in range(L):
        for m in range(-l, l + 1):
            y = _scipy_complex(l, abs(m), theta, phi)
            cols.append(math.sqrt(2) * (-1) ** m * y.imag if m < 0 else
                        math.pi * y.real if m == 0 else math.sqrt(2) * (-1) ** m * y.real)
    return np.stack(cols, 1)


def reference_siren(x, tensors, num_hidden_layers, w0=1.0, w0_initial=30.0):
    """SatCLIP's SirenNet forward in eval mode, in numpy float64."""
    for i in range(num_hidden_layers):
        w = tensors[f"model.location.nnet.layers.{i}.weight"].numpy()
        b = tensors[f"model.location.nnet.layers.{i}.bias"].numpy()
        x = np.sin((w0_initial if i == 0 else w0) * (x @ w.T + b))
    w = tensors["model.location.nnet.last_layer.weight"].numpy()
    b = tensors["model.location.nnet.last_layer.bias"].numpy()
    return x @ w.T + b


def make_checkpoint(path, L=10, capacity=64, embed_dim=32, num_hidden_layers=2, seed=0, **hp_changes):
    """A Lightning-style checkpoint with SatCLIP's key names, shapes and hyper_parameters.

    Weights are drawn at SIREN-init scale (first layer U(+-1/in), others U(+-sqrt(6/in))) in
    float64, as SatCLIP stores them. The location net appears under both ``model.nnet.`` and
    ``model.location.nnet.`` (SatCLIP registers the module twice), next to vision-tower tensors.
    """
    g = torch.Generator().manual_seed(seed)
    net = {}
    dims = [L * L] + [capacity] * num_hidden_layers
    for i in range(num_hidden_layers):
        bound = 1.0 / dims[i] if i == 0 else math.sqrt(6.0 / dims[i])
        net[f"layers.{i}.weight"] = (torch.rand(capacity, dims[i], generator=g, dtype=torch.float64) * 2 - 1) * bound
        net[f"layers.{i}.bias"] = (torch.rand(capacity, generator=g, dtype=torch.float64) * 2 - 1) * bound
    bound = math.sqrt(6.0 / capacity)
    net["last_layer.weight"] = (torch.rand(embed_dim, capacity, generator=g, dtype=torch.float64) * 2 - 1) * bound
    net["last_layer.bias"] = (torch.rand(embed_dim, generator=g, dtype=torch.float64) * 2 - 1) * bound
    state = {}
    state["model.logit_scale"] = torch.tensor(2.659)
    state["model.visual.conv1.weight"] = torch.randn(8, 13, 3, 3, generator=g)
    for k, v in net.items():
        state[f"model.nnet.{k}"] = v
        state[f"model.location.nnet.{k}"] = v
    hyper_parameters = {
        "embed_dim": embed_dim, "image_resolution": 224, "vision_layers": "moco_vit16", "vision_width": 768,
        "vision_patch_size": 32, "in_channels": 13, "le_type": "sphericalharmonics", "pe_type": "siren",
        "frequency_num": 16, "max_radius": 360, "min_radius": 1, "legendre_polys": L,
        "harmonics_calculation": "analytic", "sh_embedding_dims": 32, "learning_rate": 1e-4,
        "weight_decay": 0.01, "num_hidden_layers": num_hidden_layers, "capacity": capacity,
    }
    hyper_parameters.update(hp_changes)
    checkpoint = {"epoch": 499, "global_step": 12345, "pytorch-lightning_version": "2.1.0", "state_dict": state,
                  "hyper_parameters": hyper_parameters, "optimizer_states": [], "lr_schedulers": [],
                  "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {
                      "best_model_score": torch.tensor(1.5), "best_model_path": "/x/epoch=499.ckpt"}}}
    torch.save(checkpoint, path)
    return {f"model.location.nnet.{k}": v for k, v in net.items()}


@pytest.mark.parametrize("L", [10, 40])
def test_convert_matches_independent_evaluation(tmp_path, L):
    path = tmp_path / f"satclip-test-l{L}.ckpt"
    tensors = make_checkpoint(path, L=L, capacity=64, embed_dim=32, num_hidden_layers=2)
    config, state = satclip_convert.convert(path)
    pe, net = config.position_encoder, config.network
    assert pe.family == "spherical-harmonics" and net.name == "siren"
    assert (pe.sh_degree, net.hidden_dim, net.embed_dim, net.num_hidden_layers) == (L, 64, 32, 2)
    assert (net.siren_w0, net.siren_w0_initial, net.dropout) == (1.0, 30.0, 0.5)
    assert set(state) == {"network.layers.0.weight", "network.layers.0.bias", "network.layers.1.weight",
                          "network.layers.1.bias", "network.last_layer.weight", "network.last_layer.bias"}
    model64 = ge.LocationEncoder(config).double()  # float64 first, so the weights load unrounded
    model64.load_state_dict(state, strict=True)
    model64.eval()
    model32 = ge.LocationEncoder(config)
    model32.load_state_dict(state, strict=True)
    model32.eval()
    expected = reference_siren(reference_sh(POINTS, L), tensors, 2)
    assert np.abs(expected).max() > 0.1
    with torch.no_grad():
        got64 = model64(torch.from_numpy(POINTS)).numpy()
        points32 = POINTS.astype(np.float32)
        expected32 = reference_siren(reference_sh(points32.astype(np.float64), L), tensors, 2)
        got32 = model32(torch.from_numpy(points32)).numpy()
    np.testing.assert_allclose(got64, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got32, expected32, rtol=0, atol=1e-5)


def test_convert_through_package_entry_point(tmp_path):
    from geoloc_embed.convert import convert

    path = tmp_path / "satclip-resnet18-l10.ckpt"
    make_checkpoint(path, L=10, capacity=32, embed_dim=16, num_hidden_layers=3)
    config, state = convert(path)  # .ckpt -> satclip
    model = ge.LocationEncoder.from_state_dict(config, state, source=str(path))
    assert model.embed_dim == 16 and config.network.num_hidden_layers == 3
    assert model(torch.zeros(2, 2)).shape == (2, 16)


def test_rejects_unsupported_or_inconsistent_checkpoints(tmp_path):
    path = tmp_path / "closed.ckpt"
    make_checkpoint(path, harmonics_calculation="closed-form")
    with pytest.raises(WeightsError, match="closed-form"):
        satclip_convert.convert(path)
    path = tmp_path / "grid.ckpt"
    make_checkpoint(path, le_type="grid")
    with pytest.raises(WeightsError, match="spherical harmonics"):
        satclip_convert.convert(path)
    path = tmp_path / "wrong-L.ckpt"
    make_checkpoint(path, L=10, legendre_polys=12)
    with pytest.raises(WeightsError, match="shape"):
        satclip_convert.convert(path)
    with pytest.raises(WeightsError, match="not found"):
        satclip_convert.convert(tmp_path / "missing.ckpt")


def test_allow_listed_value_types_load(tmp_path):
    """Harmless value types Lightning may store (paths, argparse namespaces) pass the allow-list."""
    import argparse
    import pathlib
    import pickle

    path = tmp_path / "with-paths.ckpt"
    make_checkpoint(path, L=10, capacity=32, embed_dim=16)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"]["data_dir"] = pathlib.PurePosixPath("/data/s2")
    checkpoint["hyper_parameters"]["args"] = argparse.Namespace(seed=0)
    torch.save(checkpoint, path)
    with pytest.raises(pickle.UnpicklingError):  # plain weights_only refuses them ...
        torch.load(path, weights_only=True)
    config, _ = satclip_convert.convert(path)  # ... the converter's explicit allow-list accepts them
    assert config.position_encoder.sh_degree == 10


def test_never_unpickles_code(tmp_path):
    """A checkpoint carrying an arbitrary object is refused, and the object's code never runs."""
    path = tmp_path / "evil.ckpt"
    make_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"]["payload"] = _Payload()
    torch.save(checkpoint, path)
    _Payload.ran = False
    with pytest.raises(WeightsError, match="weights-only"):
        satclip_convert.convert(path)
    assert _Payload.ran is False


class _Payload:
    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Payload.ran = True
