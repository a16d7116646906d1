"""One config per network, each with its reference implementation's defaults.

* csp-ffn: CSP's ``MultiLayerFeedForwardNN`` ([csp] ``main/trainer.py`` parser: ``--num_hidden_layer 1
  --hidden_dim 512 --num_filts 256 --dropout 0.5 --use_layn T --skip_connection T``; activation
  ``leakyrelu`` from ``run-inat_2018-contsoftmax.sh`` and the released iNat checkpoint, the parser's
  own default being ``relu``; csp-spec.md sections 1.2 and 1.4).
* fcnet: geo_prior's FCNet (Mac Aodha et al. 2019), also SINR's ResidualFCNet and SatCLIP's
  ``FCNet``: Linear(in -> 256) -> ReLU -> 4 residual blocks of width 256 with Dropout(0.5)
  (csp-spec.md section 1.3; ``microsoft/satclip`` ``satclip/location_encoder.py``).
* mlp: GeoCLIP's branch MLP, 3 hidden layers of 1024 with ReLU and no dropout, 512-d output (the
  ``geoclip`` wheel; csp-spec.md section 9 item 18).
* siren: SatCLIP's ``SirenNet``: 2 sine layers of 512, 256-d output, w0 = 1, w0_initial = 30,
  ``dropout=True`` = p 0.5 (``satclip/location_encoder.py`` defaults; width and depth of the
  released SatCLIP models).

Sizes are bounded (widths <= 16,384, depth <= 64) to reject absurd values before allocation.
"""

from dataclasses import dataclass

from .base import NetworkConfig, register_network_config
from .fields import bool_field, choice_field, float_field, int_field

__all__ = ["CSPFFNConfig", "FCNetConfig", "MLPConfig", "SirenConfig", "ACTIVATIONS", "MAX_WIDTH", "MAX_DEPTH"]

#: Activations of the CSP FFN, FCNet and MLP (CSP's names; leakyrelu has slope 0.2).
ACTIVATIONS = ("leakyrelu", "relu", "gelu", "sigmoid", "tanh", "identity")
#: Largest hidden/embedding width and depth accepted.
MAX_WIDTH = 16384
MAX_DEPTH = 64
_WIDTH_NOTE = f"at most {MAX_WIDTH:,}"
_DEPTH_NOTE = f"at most {MAX_DEPTH}"


def _width(default: int) -> int:
    return int_field(default, minimum=1, maximum=MAX_WIDTH, note=_WIDTH_NOTE)


def _depth(default: int, minimum: int = 0) -> int:
    return int_field(default, minimum=minimum, maximum=MAX_DEPTH, note=_DEPTH_NOTE)


def _dropout(default: float) -> float:
    return float_field(default, minimum=0.0, maximum=1.0, exclusive_maximum=True)


@register_network_config
@dataclass(frozen=True)
class CSPFFNConfig(NetworkConfig):
    """CSP's FFN: ``num_hidden_layers`` x (Linear -> act -> dropout [-> +x] [-> LayerNorm]), then
    Linear -> act -> dropout to ``embed_dim`` (csp-spec.md section 1.2)."""

    name = "csp-ffn"
    hidden_dim: int = _width(512)
    num_hidden_layers: int = _depth(1)
    embed_dim: int = _width(256)
    activation: str = choice_field("leakyrelu", ACTIVATIONS)
    dropout: float = _dropout(0.5)
    use_layernorm: bool = bool_field(True)
    skip_connection: bool = bool_field(True)


@register_network_config
@dataclass(frozen=True)
class FCNetConfig(NetworkConfig):
    """geo_prior's FCNet: Linear(in -> ``embed_dim``) -> act -> ``num_hidden_layers`` residual blocks."""

    name = "fcnet"
    embed_dim: int = _width(256)
    num_hidden_layers: int = _depth(4)
    activation: str = choice_field("relu", ACTIVATIONS)
    dropout: float = _dropout(0.5)


@register_network_config
@dataclass(frozen=True)
class MLPConfig(NetworkConfig):
    """Plain MLP: ``num_hidden_layers`` x (Linear -> act [-> dropout]) then a linear output layer."""

    name = "mlp"
    hidden_dim: int = _width(1024)
    num_hidden_layers: int = _depth(3)
    embed_dim: int = _width(512)
    activation: str = choice_field("relu", ACTIVATIONS)
    dropout: float = _dropout(0.0)


@register_network_config
@dataclass(frozen=True)
class SirenConfig(NetworkConfig):
    """SatCLIP's SIREN: ``num_hidden_layers`` >= 1 sine layers of ``hidden_dim``, then a linear layer."""

    name = "siren"
    hidden_dim: int = _width(512)
    num_hidden_layers: int = _depth(2, minimum=1)
    embed_dim: int = _width(256)
    siren_w0: float = float_field(1.0, minimum=0.0, exclusive_minimum=True)
    siren_w0_initial: float = float_field(30.0, minimum=0.0, exclusive_minimum=True)
    dropout: float = _dropout(0.5)
