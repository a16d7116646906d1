"""Networks that turn position-encoder features into embeddings, and their registry.

Every network is built from its typed config as ``build_network(config, in_dim)`` (config: a
``geoloc_embed.config.NetworkConfig`` such as ``CSPFFNConfig``) and maps (N, in_dim) -> (N, out_dim).
"""

from typing import Any, Callable, Union

import torch
from torch import Tensor, nn

from ..config import CSPFFNConfig, FCNetConfig, LocationEncoderConfig, MLPConfig, NetworkConfig
from ..errors import ConfigError
from ._inplace import may_overwrite

__all__ = [
    "make_activation",
    "register_network",
    "build_network",
    "list_networks",
    "CSPFeedForward",
    "FCNet",
    "MLP",
    "BranchSum",
]

NetworkBuilder = Callable[[Any, int], nn.Module]
_REGISTRY: dict[str, NetworkBuilder] = {}


def register_network(name: str) -> Callable[[NetworkBuilder], NetworkBuilder]:
    """Decorator: register ``builder(config, in_dim) -> nn.Module`` (with an ``out_dim`` attribute).

    ``name`` is the ``NetworkConfig.name`` of the config class the builder takes (registered with
    ``geoloc_embed.config.register_network_config``).
    """

    def decorator(builder: NetworkBuilder) -> NetworkBuilder:
        if name in _REGISTRY:
            raise ValueError(f"network {name!r} is already registered")
        _REGISTRY[name] = builder
        return builder

    return decorator


def list_networks() -> list[str]:
    """Sorted names of every registered network."""
    return sorted(_REGISTRY)


def build_network(config: Union[NetworkConfig, LocationEncoderConfig], in_dim: int) -> nn.Module:
    """Instantiate the network of a typed network config (or of a model config's ``network``) for ``in_dim`` inputs."""
    if isinstance(config, LocationEncoderConfig):
        config = config.network
    if not isinstance(config, NetworkConfig):
        raise TypeError(f"build_network needs a NetworkConfig (e.g. CSPFFNConfig()), got {type(config).__name__}")
    try:
        builder = _REGISTRY[config.name]
    except KeyError:
        raise ConfigError(
            f"no network is registered for {config.name!r} (its config class is); "
            f"built networks: {', '.join(list_networks())}"
        ) from None
    return builder(config, in_dim)


def make_activation(name: str, inplace: bool = False) -> nn.Module:
    """CSP's activation names: leakyrelu has slope 0.2, gelu is the exact (erf) form.

    ``inplace=True`` (leakyrelu and relu only) overwrites its input: use it only on a fresh tensor
    that nothing else reads, such as a Linear layer's output (autograd supports both in place).
    """
    if name == "leakyrelu":
        return nn.LeakyReLU(negative_slope=0.2, inplace=inplace)
    if name == "relu":
        return nn.ReLU(inplace=inplace)
    if name == "gelu":
        return nn.GELU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "identity":
        return nn.Identity()
    raise ConfigError(f"activation {name!r} is not available for this network")


# --------------------------------------------------------------------------- CSP FFN
class _CSPLayer(nn.Module):
    """One ``SingleFeedForwardNN``: Linear -> act -> dropout [-> +input] [-> LayerNorm]."""

    def __init__(self, in_dim: int, out_dim: int, activation: str, dropout: float,
                 residual: bool, layernorm: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        nn.init.xavier_uniform_(self.linear.weight)  # bias keeps torch's default init, as in CSP
        self.activation = make_activation(activation, inplace=True)  # acts on the Linear's fresh output
        self.dropout = nn.Dropout(dropout)
        self.residual = residual and in_dim == out_dim
        self.layernorm = nn.LayerNorm(out_dim, eps=1e-5) if layernorm else None

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_dim) -> (N, out_dim). One code path: the activation (built in place for leakyrelu
        and relu by ``make_activation``) acts on the Linear's fresh output, and when autograd does not
        record (``may_overwrite``) the residual is added into that output too (one temporary fewer);
        the values are the same either way. ``nn.LayerNorm`` has no public in-place form and allocates."""
        out = self.dropout(self.activation(self.linear(x)))
        if self.residual:
            inplace = may_overwrite(x, self.linear.weight, self.linear.bias)
            out = torch.add(out, x, out=out if inplace else None)
        if self.layernorm is not None:
            out = self.layernorm(out)
        return out


class CSPFeedForward(nn.Module):
    """CSP's ``MultiLayerFeedForwardNN`` (csp-spec.md section 1.2 and section 9 item 2).

    ``num_hidden_layers`` hidden layers of width ``hidden_dim`` (Linear -> act -> dropout ->
    residual when shapes match and ``skip_connection`` -> LayerNorm when ``use_layernorm``),
    then a last layer Linear -> act -> dropout (never residual, never LayerNorm).
    Shapes: (N, in_dim) -> (N, embed_dim).
    """

    def __init__(self, in_dim: int, hidden_dim: int, embed_dim: int, num_hidden_layers: int,
                 activation: str, dropout: float, use_layernorm: bool, skip_connection: bool) -> None:
        super().__init__()
        layers = []
        width = in_dim
        for _ in range(num_hidden_layers):
            layers.append(_CSPLayer(width, hidden_dim, activation, dropout,
                                    residual=skip_connection, layernorm=use_layernorm))
            width = hidden_dim
        layers.append(_CSPLayer(width, embed_dim, activation, dropout, residual=False, layernorm=False))
        self.layers = nn.ModuleList(layers)
        self.out_dim = embed_dim

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


@register_network("csp-ffn")
def _build_csp_ffn(config: CSPFFNConfig, in_dim: int) -> nn.Module:
    return CSPFeedForward(in_dim, config.hidden_dim, config.embed_dim, config.num_hidden_layers,
                          config.activation, config.dropout, config.use_layernorm, config.skip_connection)


# --------------------------------------------------------------------------- geo_prior / SINR
class _ResLayer(nn.Module):
    """geo_prior's ResLayer: x + act(W2 dropout(act(W1 x)))."""

    def __init__(self, width: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(width, width)
        self.linear2 = nn.Linear(width, width)
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        y = self.dropout(self.activation(self.linear1(x)))
        return x + self.activation(self.linear2(y))


class FCNet(nn.Module):
    """geo_prior's FCNet, also SINR's ResidualFCNet: Linear(in -> W) -> act -> depth x ResLayer(W).

    Shapes: (N, in_dim) -> (N, W) with W = ``embed_dim``; depth = ``num_hidden_layers``
    (geo_prior and the CSP "wrap" baseline use W = 256, depth 4, ReLU, dropout 0.5).
    """

    def __init__(self, in_dim: int, width: int, depth: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.input_layer = nn.Linear(in_dim, width)
        self.activation = make_activation(activation)
        self.blocks = nn.ModuleList(_ResLayer(width, activation, dropout) for _ in range(depth))
        self.out_dim = width

    def forward(self, x: Tensor) -> Tensor:
        x = self.activation(self.input_layer(x))
        for block in self.blocks:
            x = block(x)
        return x


@register_network("fcnet")
def _build_fcnet(config: FCNetConfig, in_dim: int) -> nn.Module:
    return FCNet(in_dim, config.embed_dim, config.num_hidden_layers, config.activation, config.dropout)


# --------------------------------------------------------------------------- plain MLP
class MLP(nn.Module):
    """Plain MLP: ``num_hidden_layers`` x (Linear -> act -> dropout), then a linear output layer.

    Shapes: (N, in_dim) -> (N, embed_dim). GeoCLIP's branch is hidden 1024, 3 hidden layers, ReLU.
    """

    def __init__(self, in_dim: int, hidden_dim: int, embed_dim: int, num_hidden_layers: int,
                 activation: str, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(num_hidden_layers):
            layers += [nn.Linear(width, hidden_dim), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden_dim
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, embed_dim)
        self.out_dim = embed_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.hidden(x))


@register_network("mlp")
def _build_mlp(config: MLPConfig, in_dim: int) -> nn.Module:
    return MLP(in_dim, config.hidden_dim, config.embed_dim, config.num_hidden_layers,
               config.activation, config.dropout)


# --------------------------------------------------------------------------- branches
class BranchSum(nn.Module):
    """Runs one network per equal-width block of the input and sums their outputs (GeoCLIP).

    Shapes: (N, B * F) -> (N, D) where B = ``len(branches)`` and every branch maps F -> D.
    """

    def __init__(self, branches: list[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.out_dim = branches[0].out_dim

    def forward(self, x: Tensor) -> Tensor:
        chunks = torch.chunk(x, len(self.branches), dim=-1)
        out = self.branches[0](chunks[0])
        for branch, chunk in zip(self.branches[1:], chunks[1:], strict=False):
            out = out + branch(chunk)
        return out
