"""SIREN network with SatCLIP's ``SirenNet`` semantics (microsoft/satclip ``satclip/location_encoder.py``).

Structure for ``num_hidden_layers`` = H >= 1, hidden width W, output width D::

    layers.0:     x -> sin(w0_initial * dropout(W0 x + b0))       (in_dim -> W)
    layers.i:     x -> sin(w0 * dropout(Wi x + bi)), i = 1..H-1   (W -> W)
    last_layer:   x -> Wl x + bl                                  (W -> D, identity activation)

* Dropout is ``F.dropout`` with p = ``config.dropout`` (SatCLIP: ``dropout=True``, i.e. torch's
  default p = 0.5) applied to the pre-activation of every hidden layer, never to the last layer,
  and only in training mode.
* Initialisation, weight and bias alike: U(-1/in, 1/in) for the first layer,
  U(-sqrt(6/in)/w0, sqrt(6/in)/w0) for the others, the last layer included (with the hidden w0).
* Every layer has a bias. Parameter names are SatCLIP's (``layers.{i}.weight``, ``layers.{i}.bias``,
  ``last_layer.weight``, ``last_layer.bias``), so a checkpoint's ``model.location.nnet.*`` keys map
  by stripping the prefix.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import SirenConfig
from ..errors import ConfigError
from ._inplace import may_overwrite
from .networks import register_network

__all__ = ["SirenLayer", "SirenNet"]

#: SatCLIP's constant c in the hidden-layer init bound sqrt(c / in) / w0 (SIREN paper: c = 6).
_SIREN_C = 6.0


class SirenLayer(nn.Module):
    """Linear layer followed by ``sin(w0 * .)`` (or by nothing when ``activation=False``).

    Shapes: (N, in_dim) -> (N, out_dim).
    """

    def __init__(self, in_dim: int, out_dim: int, w0: float, is_first: bool, dropout: float = 0.0,
                 activation: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.w0 = float(w0)
        self.is_first = is_first
        self.dropout = float(dropout)
        self.activation = activation
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        self.bias = nn.Parameter(torch.empty(out_dim))
        self.reset_parameters()

    @property
    def init_bound(self) -> float:
        """Half-width of the uniform initialisation of weight and bias."""
        return 1.0 / self.in_dim if self.is_first else math.sqrt(_SIREN_C / self.in_dim) / self.w0

    def reset_parameters(self) -> None:
        bound = self.init_bound
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_dim) -> (N, out_dim): ``sin(w0 * dropout(x W^T + b))``.

        One code path. When autograd does not record (``may_overwrite``) dropout, the w0 scaling and
        sin overwrite the fresh Linear output (two (N, out_dim) temporaries fewer); the kernels and
        therefore the values are the same either way, and ``x`` is never written.
        """
        inplace = may_overwrite(x, self.weight, self.bias)
        out = F.linear(x, self.weight, self.bias)
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training, inplace=inplace)
        if not self.activation:
            return out
        if self.w0 != 1.0:  # 1.0 * out == out exactly: skip the pass
            out = torch.mul(out, self.w0, out=out if inplace else None)
        return torch.sin(out, out=out if inplace else None)

    def extra_repr(self) -> str:
        return (f"in_dim={self.in_dim}, out_dim={self.out_dim}, w0={self.w0}, dropout={self.dropout}, "
                f"activation={'sine' if self.activation else 'identity'}")


class SirenNet(nn.Module):
    """SatCLIP's ``SirenNet``: ``num_hidden_layers`` sine layers then a linear ``last_layer``.

    Shapes: (N, in_dim) -> (N, embed_dim). See the module docstring for the exact semantics.
    """

    def __init__(self, in_dim: int, hidden_dim: int, embed_dim: int, num_hidden_layers: int,
                 w0: float = 1.0, w0_initial: float = 30.0, dropout: float = 0.5) -> None:
        super().__init__()
        if num_hidden_layers < 1:
            raise ConfigError("the siren network needs num_hidden_layers >= 1 (SatCLIP uses 2)")
        self.layers = nn.ModuleList(
            SirenLayer(in_dim if i == 0 else hidden_dim, hidden_dim, w0_initial if i == 0 else w0,
                       is_first=i == 0, dropout=dropout)
            for i in range(num_hidden_layers))
        self.last_layer = SirenLayer(hidden_dim, embed_dim, w0, is_first=False, dropout=0.0, activation=False)
        self.out_dim = embed_dim

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.last_layer(x)


@register_network("siren")
def _build_siren(config: SirenConfig, in_dim: int) -> nn.Module:
    return SirenNet(in_dim, config.hidden_dim, config.embed_dim, config.num_hidden_layers,
                    w0=config.siren_w0, w0_initial=config.siren_w0_initial, dropout=config.dropout)
