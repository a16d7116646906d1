"""Base class and registry of position encoders (canonical lon/lat degrees -> features).

A position encoder takes the package's one coordinate convention, a float tensor of shape
(N, 2) holding (longitude, latitude) in degrees, and converts it internally to whatever its
family was trained on. Its output has shape (N, ``out_dim``) and the dtype of its input.
"""

import math
from typing import Callable, ClassVar, TypeVar

import torch
from torch import Tensor, nn

from ...config import LocationEncoderConfig, PositionEncoderConfig
from ...errors import ConfigError
from .._inplace import may_overwrite

__all__ = [
    "PositionEncoder",
    "register_position_encoder",
    "build_position_encoder",
    "list_position_encoders",
    "geometric_frequencies",
    "sin_cos",
    "sin_cos_interleaved",
]

_REGISTRY: dict[str, type["PositionEncoder"]] = {}

TWO_PI = 2.0 * math.pi


class PositionEncoder(nn.Module):
    """Maps canonical coordinates (N, 2) [lon, lat] in degrees to features (N, out_dim).

    Subclasses set ``out_dim`` in ``__init__`` and implement ``forward``. Fixed tensors
    (frequencies, anchors, random directions) are buffers, so they follow ``.to(device)`` and
    are saved in the state dict when they cannot be recomputed from the config.
    ``num_branches`` > 1 means the features are the concatenation of that many equal-width
    blocks meant for separate network branches (GeoCLIP).
    """

    name: ClassVar[str] = ""
    num_branches: int = 1
    out_dim: int

    def __init__(self, config: PositionEncoderConfig) -> None:
        super().__init__()
        self.config = config

    def forward(self, lonlat: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def register_float64_buffer(self, name: str, value: Tensor) -> None:
        """Register a non-persistent float64 buffer that stays float64 under ``.float()``/``.half()``.

        Frequencies and projection constants must keep full precision whatever dtype the network
        runs in; ``.to(device)`` still moves them.
        """
        value = value.to(torch.float64)
        self._float64_masters = {**getattr(self, "_float64_masters", {}), name: value.cpu()}
        self.register_buffer(name, value, persistent=False)

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        super()._apply(fn, recurse)
        for name, master in getattr(self, "_float64_masters", {}).items():
            buffer = getattr(self, name)
            if buffer.dtype != torch.float64:
                setattr(self, name, master.to(buffer.device))
        return self

    def extra_repr(self) -> str:
        return f"out_dim={self.out_dim}"


P = TypeVar("P", bound=type[PositionEncoder])


def register_position_encoder(name: str) -> Callable[[P], P]:
    """Class decorator: register a ``PositionEncoder`` subclass under a kebab-case ``name``.

    ``name`` is the family of the config class it is built from (``PositionEncoderConfig.family``,
    registered with ``geoloc_embed.config.register_position_encoder_config``).
    """

    def decorator(cls: P) -> P:
        if name in _REGISTRY:
            raise ValueError(f"position encoder {name!r} is already registered by {_REGISTRY[name]!r}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def list_position_encoders() -> list[str]:
    """Sorted names of every registered position encoder family."""
    return sorted(_REGISTRY)


def build_position_encoder(config: PositionEncoderConfig | LocationEncoderConfig) -> PositionEncoder:
    """Instantiate the position encoder of a typed family config (or of a model config's ``position_encoder``)."""
    if isinstance(config, LocationEncoderConfig):
        config = config.position_encoder
    if not isinstance(config, PositionEncoderConfig):
        raise TypeError(f"build_position_encoder needs a PositionEncoderConfig (e.g. GridConfig()), "
                        f"got {type(config).__name__}")
    try:
        cls = _REGISTRY[config.family]
    except KeyError:
        raise ConfigError(
            f"no position encoder is registered for family {config.family!r} (its config class is); "
            f"built families: {', '.join(list_position_encoders())}"
        ) from None
    return cls(config)


def geometric_frequencies(num: int, min_radius: float, max_radius: float) -> Tensor:
    """Frequencies omega_s = 1 / (r_min * (r_max / r_min) ** (s / (S - 1))), s = 0..S-1, float64 (S,).

    Space2Vec/CSP's geometric scales, with no 2*pi factor (csp-spec.md section 1.2).
    """
    if num == 1:
        return torch.tensor([1.0 / min_radius], dtype=torch.float64)
    s = torch.arange(num, dtype=torch.float64)
    log_timescale_increment = math.log(max_radius / min_radius) / (num - 1)
    scales = min_radius * torch.exp(s * log_timescale_increment)
    return 1.0 / scales


def sin_cos(phase: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """sin and cos of ``phase`` (radians, any shape) returned in ``dtype``.

    The phase is computed by the caller in float64 (csp-spec.md section 9 item 1). On the CPU,
    float64 sin/cos rounded once to ``dtype`` are both the most exact and the fastest choice. On
    accelerators, whose float64 units can be slow, the phase is first reduced modulo 2*pi in
    float64 and sin/cos run in ``dtype`` (exact to float32 rounding).
    """
    if dtype == torch.float64 or phase.dtype != torch.float64 or phase.device.type == "cpu":
        return torch.sin(phase).to(dtype), torch.cos(phase).to(dtype)
    reduced = torch.remainder(phase, TWO_PI).to(dtype)
    return torch.sin(reduced), torch.cos(reduced)


def sin_cos_interleaved(phase: Tensor, dtype: torch.dtype) -> Tensor:
    """[sin, cos] of ``phase`` stacked on a new last axis: (..., ) float64 -> (..., 2) ``dtype``.

    Same numbers as ``torch.stack(sin_cos(phase, dtype), -1)`` to rounding, without the stack copy:
    cos(x) is evaluated as sin(x + pi/2) in one elementwise pass.
    """
    if phase.dtype != torch.float64 or dtype == torch.float64 or phase.device.type == "cpu":
        shifted = phase.unsqueeze(-1) + _SIN_COS_SHIFT.to(device=phase.device, dtype=phase.dtype)
        # in place on the fresh sum when autograd does not record: one temporary less
        return torch.sin(shifted, out=shifted if may_overwrite(phase) else None).to(dtype)
    reduced = torch.remainder(phase, TWO_PI).to(dtype).unsqueeze(-1)
    return torch.sin(reduced + _SIN_COS_SHIFT.to(device=phase.device, dtype=dtype))


_SIN_COS_SHIFT = torch.tensor([0.0, math.pi / 2], dtype=torch.float64)
