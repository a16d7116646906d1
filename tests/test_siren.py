"""SIREN network: SatCLIP's SirenNet structure, initialisation, forward formula and dropout."""

import math

import pytest
import torch

import geoloc_embed as ge
from geoloc_embed.config import SirenConfig, SphericalHarmonicsConfig
from geoloc_embed.encoders.networks import build_network
from geoloc_embed.errors import ConfigError


def _config(**changes):
    base = ge.LocationEncoderConfig(position_encoder=SphericalHarmonicsConfig(sh_degree=4),
                                    network=SirenConfig(hidden_dim=32, num_hidden_layers=3, embed_dim=8,
                                                        siren_w0=1.0, siren_w0_initial=30.0, dropout=0.5))
    return base.replace(**changes)


def test_structure_and_parameter_names():
    net = build_network(_config(), 16)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {
        "layers.0.weight": (32, 16), "layers.0.bias": (32,),
        "layers.1.weight": (32, 32), "layers.1.bias": (32,),
        "layers.2.weight": (32, 32), "layers.2.bias": (32,),
        "last_layer.weight": (8, 32), "last_layer.bias": (8,),
    }
    assert sum(p.numel() for p in net.parameters()) == 16 * 32 + 32 + 2 * (32 * 32 + 32) + 32 * 8 + 8
    assert net.out_dim == 8
    model = ge.LocationEncoder(_config())
    assert model.position_encoder.out_dim == 16 and model(torch.zeros(3, 2)).shape == (3, 8)


def test_needs_a_hidden_layer():
    with pytest.raises(ConfigError):
        build_network(_config(num_hidden_layers=0), 16)


def test_init_ranges():
    torch.manual_seed(0)
    in_dim, hidden, w0 = 400, 256, 2.0
    net = build_network(_config(hidden_dim=hidden, num_hidden_layers=2, embed_dim=64, siren_w0=w0), in_dim)
    first = 1.0 / in_dim                      # first layer: U(-1/in, 1/in), weight and bias
    hidden_bound = math.sqrt(6.0 / hidden) / w0  # others: U(-sqrt(6/in)/w0, ...), last layer included
    for name, bound in [("layers.0", first), ("layers.1", hidden_bound), ("last_layer", hidden_bound)]:
        layer = net.get_submodule(name)
        for tensor in (layer.weight.detach(), layer.bias.detach()):
            assert float(tensor.abs().max()) <= bound
            assert float(tensor.abs().max()) > 0.9 * bound  # uniform over the whole range, not narrower
        # uniform on [-b, b] has std b / sqrt(3)
        assert abs(float(layer.weight.detach().std()) / (bound / math.sqrt(3)) - 1) < 0.05


def test_forward_matches_hand_written_formula():
    torch.manual_seed(1)
    w0, w0_initial = 1.5, 30.0
    net = build_network(_config(siren_w0=w0, siren_w0_initial=w0_initial), 16).double().eval()
    x = torch.randn(7, 16, dtype=torch.float64)
    p = {k: v.detach() for k, v in net.state_dict().items()}
    h = torch.sin(w0_initial * (x @ p["layers.0.weight"].T + p["layers.0.bias"]))
    h = torch.sin(w0 * (h @ p["layers.1.weight"].T + p["layers.1.bias"]))
    h = torch.sin(w0 * (h @ p["layers.2.weight"].T + p["layers.2.bias"]))
    expected = h @ p["last_layer.weight"].T + p["last_layer.bias"]  # identity activation, no w0
    torch.testing.assert_close(net(x), expected, rtol=0, atol=1e-12)


def test_dropout_only_in_training_and_only_in_hidden_layers():
    torch.manual_seed(2)
    net = build_network(_config(num_hidden_layers=1, dropout=0.5), 16).double()
    x = torch.randn(4096, 16, dtype=torch.float64)
    net.eval()
    a, b = net(x), net(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    net.train()
    # With one hidden layer, the hidden output is sin(w0 * dropout(z)): dropped units give sin(0) = 0,
    # kept ones sin(w0 * 2 z) (inverted dropout scales by 1 / (1 - p) = 2 before the sine).
    layer = net.layers[0]
    torch.manual_seed(3)
    h = layer(x)
    z = x @ layer.weight.T + layer.bias
    dropped = h == 0
    assert 0.45 < float(dropped.double().mean()) < 0.55
    torch.testing.assert_close(h[~dropped], torch.sin(30.0 * 2 * z)[~dropped], rtol=0, atol=1e-12)
    # the last layer never drops: equal hidden input gives equal output in train mode
    hidden = torch.randn(5, 32, dtype=torch.float64)
    torch.testing.assert_close(net.last_layer(hidden), net.last_layer(hidden), rtol=0, atol=0)
    # dropout = 0 disables it in training too
    plain = build_network(_config(num_hidden_layers=1, dropout=0.0), 16).double().train()
    torch.testing.assert_close(plain(x), plain(x), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inference_path_equals_autograd_path(dtype):
    """Without autograd the layers apply the same kernels in place: bit-for-bit the same output,
    in eval mode and (same seed, same dropout mask) in training mode."""
    torch.manual_seed(4)
    net = build_network(_config(siren_w0=1.5, dropout=0.5), 16).to(dtype)
    x = torch.randn(33, 16, dtype=dtype)
    for training in (False, True):
        net.train(training)
        torch.manual_seed(5)
        recorded = net(x)
        assert recorded.requires_grad
        torch.manual_seed(5)
        with torch.no_grad():
            plain = net(x)
        assert not plain.requires_grad
        assert torch.equal(plain, recorded.detach())
    # the in-place path must not touch its input (a feature tensor the caller may reuse)
    net.eval()
    before = x.clone()
    with torch.inference_mode():
        net(x)
    assert torch.equal(x, before)


def test_gradients_flow_in_training():
    torch.manual_seed(6)
    net = build_network(_config(num_hidden_layers=2, dropout=0.5), 16).train()
    x = torch.randn(64, 16, requires_grad=True)
    net(x).square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()) and float(p.grad.abs().sum()) > 0, name
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


@pytest.mark.filterwarnings("ignore:.*torch.jit.trace.*:DeprecationWarning")
def test_tracing_keeps_out_of_place_ops():
    """Export traces the network: the trace must hold the out-of-place sin (ONNX has no in-place ops)."""
    net = build_network(_config(dropout=0.0), 16).eval()
    x = torch.randn(5, 16)
    with torch.no_grad():
        traced = torch.jit.trace(net, (x,), check_trace=False)
        assert torch.equal(traced(x), net(x))
    graph = str(traced.inlined_graph)
    assert "aten::sin(" in graph and "aten::sin_" not in graph and "aten::mul_" not in graph
