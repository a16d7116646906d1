"""Networks checked against independent numpy forward passes written from csp-spec.md section 1.2."""

import math

import numpy as np
import pytest
import torch

from geoloc_embed import LocationEncoder, LocationEncoderConfig
from geoloc_embed.encoders.networks import MLP, BranchSum, CSPFeedForward, FCNet, make_activation


def np_act(name, x):
    if name == "leakyrelu":
        return np.where(x > 0, x, 0.2 * x)
    if name == "relu":
        return np.maximum(x, 0)
    if name == "gelu":
        erf = np.vectorize(math.erf)
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    raise AssertionError(name)


def np_layernorm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def params(module):
    return {k: v.detach().double().numpy() for k, v in module.state_dict().items()}


def randomise_layernorms(module):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("activation", ["leakyrelu", "relu", "gelu", "tanh", "sigmoid"])
def test_csp_ffn_matches_spec_forward(activation):
    torch.manual_seed(0)
    net = CSPFeedForward(128, 512, 256, 1, activation, 0.5, True, True).double().eval()
    randomise_layernorms(net)
    p = params(net)
    x = np.random.default_rng(0).normal(size=(5, 128))
    # hidden: Linear -> act -> (dropout) -> LayerNorm (no residual: 128 != 512)
    h = np_act(activation, x @ p["layers.0.linear.weight"].T + p["layers.0.linear.bias"])
    h = np_layernorm(h, p["layers.0.layernorm.weight"], p["layers.0.layernorm.bias"])
    # last: Linear -> act -> (dropout), no LayerNorm
    y = np_act(activation, h @ p["layers.1.linear.weight"].T + p["layers.1.linear.bias"])
    out = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, y, rtol=1e-10, atol=1e-12)


def test_csp_ffn_residual_only_on_hidden_layers_with_equal_dims():
    torch.manual_seed(1)
    net = CSPFeedForward(64, 64, 64, 2, "relu", 0.0, True, True).double().eval()
    randomise_layernorms(net)
    p = params(net)
    x = np.random.default_rng(1).normal(size=(3, 64))
    h = x
    for i in range(2):
        z = np_act("relu", h @ p[f"layers.{i}.linear.weight"].T + p[f"layers.{i}.linear.bias"])
        h = np_layernorm(z + h, p[f"layers.{i}.layernorm.weight"], p[f"layers.{i}.layernorm.bias"])
    # the last layer has in == out == 64 but never a residual nor a LayerNorm
    y = np_act("relu", h @ p["layers.2.linear.weight"].T + p["layers.2.linear.bias"])
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), y, rtol=1e-10, atol=1e-12)
    assert "layers.2.layernorm.weight" not in p


def test_csp_ffn_without_skip_or_layernorm():
    torch.manual_seed(2)
    net = CSPFeedForward(16, 16, 8, 1, "tanh", 0.0, False, False).double().eval()
    p = params(net)
    x = np.random.default_rng(2).normal(size=(4, 16))
    h = np_act("tanh", x @ p["layers.0.linear.weight"].T + p["layers.0.linear.bias"])
    y = np_act("tanh", h @ p["layers.1.linear.weight"].T + p["layers.1.linear.bias"])
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), y, rtol=1e-10)


def test_csp_grid_model_has_the_papers_parameter_count_and_xavier_init():
    model = LocationEncoder(LocationEncoderConfig())
    # csp-spec.md section 1.2: 128*512+512 + 2*512 + 512*256+256 = 198,400
    assert model.num_parameters() == 198_400
    for i, (fan_in, fan_out) in enumerate([(128, 512), (512, 256)]):
        w = model.network.layers[i].linear.weight
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.9 * bound  # uniform over the whole range, not a smaller init


def test_activations_follow_csp_names():
    x = torch.tensor([-1.0, 2.0])
    assert torch.allclose(make_activation("leakyrelu")(x), torch.tensor([-0.2, 2.0]))
    # exact (erf) GELU, not the tanh approximation: gelu(1) = 0.5 * (1 + erf(1/sqrt 2))
    assert make_activation("gelu")(torch.tensor([1.0], dtype=torch.float64)).item() == pytest.approx(
        0.5 * (1 + math.erf(1 / math.sqrt(2))), abs=1e-15)


def test_dropout_is_applied_on_the_last_layer_in_train_mode():
    torch.manual_seed(3)
    net = CSPFeedForward(8, 32, 64, 1, "leakyrelu", 0.5, True, True).train()
    x = torch.randn(200, 8)
    out = net(x)
    # leaky ReLU outputs are never exactly 0 without dropout, so zeros come from the last dropout
    zero_fraction = (out == 0).float().mean().item()
    assert 0.4 < zero_fraction < 0.6
    assert not torch.equal(net(x), out)  # a second pass draws another mask (SimCSE's "D")
    net.eval()
    assert torch.equal(net(x), net(x))


def test_fcnet_matches_geo_prior_forward():
    torch.manual_seed(4)
    net = FCNet(4, 32, 2, "relu", 0.5).double().eval()
    p = params(net)
    x = np.random.default_rng(4).normal(size=(6, 4))
    h = np.maximum(x @ p["input_layer.weight"].T + p["input_layer.bias"], 0)
    for i in range(2):
        y = np.maximum(h @ p[f"blocks.{i}.linear1.weight"].T + p[f"blocks.{i}.linear1.bias"], 0)
        y = np.maximum(y @ p[f"blocks.{i}.linear2.weight"].T + p[f"blocks.{i}.linear2.bias"], 0)
        h = h + y
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), h, rtol=1e-10)


def test_mlp_and_branch_sum():
    torch.manual_seed(5)
    branches = [MLP(6, 10, 3, 2, "relu", 0.0).double().eval() for _ in range(3)]
    net = BranchSum(branches)
    x = np.random.default_rng(5).normal(size=(4, 18))
    expected = np.zeros((4, 3))
    for b, branch in enumerate(branches):
        p = params(branch)
        h = x[:, 6 * b:6 * (b + 1)]
        h = np.maximum(h @ p["hidden.0.weight"].T + p["hidden.0.bias"], 0)
        h = np.maximum(h @ p["hidden.2.weight"].T + p["hidden.2.bias"], 0)
        expected += h @ p["output.weight"].T + p["output.bias"]  # no activation on the output
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-10)
