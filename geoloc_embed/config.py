"""``LocationEncoderConfig``: the architecture of a location encoder, round-tripped through ``config.json``.

The config is flat (one level of plain JSON values) so that it survives ``json`` and any tool that
reads ``config.json`` (Hub model pages, other languages) unchanged. It names the position encoder
family and the network and holds their hyperparameters; fields that a family does not use keep their
defaults and are ignored. Provenance (license, data, metrics) is not architecture and lives in the
registry instead.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ConfigError

__all__ = ["LocationEncoderConfig", "CONFIG_FORMAT_VERSION"]

#: Written into every ``config.json``; bump when a field changes meaning.
CONFIG_FORMAT_VERSION = 1

_ACTIVATIONS = ("leakyrelu", "relu", "gelu", "sigmoid", "tanh", "sine", "identity")


@dataclass(frozen=True)
class LocationEncoderConfig:
    """Architecture of a ``LocationEncoder`` (position encoder + network + optional class head).

    Position encoder fields:
        position_encoder: family name, see ``geoloc_embed.encoders.list_position_encoders()``.
        frequency_num: number of scales S (grid, theory, sphere*, dfs), or random features D (rff).
        min_radius, max_radius: smallest and largest scale (degrees for grid/theory; for sphere*
            they scale radians, usually max_radius = 1).
        num_anchors, rbf_kernel_size: rbf anchors M (stored as a buffer) and kernel width sigma (degrees).
        rff_sigma: standard deviation of the rff direction vectors (TorchSpatial's ``rbf_kernel_size``).
        map_range: (lon_min, lon_max, lat_min, lat_max) in degrees; rff min-max scaling and tile extent.
        nerf_levels: NeRF frequency levels L (frequencies pi * 2**l).
        tile_size: tile edge length in degrees (tile family).
        tile_embed_dim: size of the learned per-tile embedding (tile family; TorchSpatial used 256).
        sh_degree: number of Legendre degrees L of the spherical harmonics (L**2 features).
        rff_sigmas, rff_features: GeoCLIP branch scales and Fourier features per branch.

    Network fields:
        network: network name, see ``geoloc_embed.encoders.list_networks()``.
        hidden_dim, num_hidden_layers, activation, dropout, use_layernorm, skip_connection: as in CSP's
            ``MultiLayerFeedForwardNN`` (and their analogues in the other networks).
        embed_dim: output embedding size D.
        siren_w0, siren_w0_initial: SIREN frequency factors of hidden and first layers.
        num_classes: size of the optional linear class head (0 = no head).
    """

    position_encoder: str = "grid"
    frequency_num: int = 32
    min_radius: float = 0.1
    max_radius: float = 360.0
    num_anchors: int = 200
    rbf_kernel_size: float = 1.0
    rff_sigma: float = 1.0
    map_range: tuple[float, float, float, float] = (-180.0, 180.0, -90.0, 90.0)
    nerf_levels: int = 16
    tile_size: float = 1.0
    tile_embed_dim: int = 256
    sh_degree: int = 10
    rff_sigmas: tuple[float, ...] = (1.0, 16.0, 256.0)
    rff_features: int = 256

    network: str = "csp-ffn"
    hidden_dim: int = 512
    num_hidden_layers: int = 1
    activation: str = "leakyrelu"
    dropout: float = 0.5
    use_layernorm: bool = True
    skip_connection: bool = True
    embed_dim: int = 256
    siren_w0: float = 1.0
    siren_w0_initial: float = 30.0
    num_classes: int = 0

    format_version: int = field(default=CONFIG_FORMAT_VERSION, compare=False)

    def __post_init__(self) -> None:
        # JSON hands back lists: store tuples so configs compare equal.
        for name in ("map_range", "rff_sigmas"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(float(v) for v in value))
        self._validate()

    def _validate(self) -> None:
        def fail(message: str) -> None:
            raise ConfigError(f"LocationEncoderConfig: {message}")

        for name in ("frequency_num", "num_anchors", "nerf_levels", "sh_degree", "rff_features",
                     "hidden_dim", "embed_dim", "tile_embed_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(f"{name} must be a positive integer, got {value!r}")
        for name in ("num_hidden_layers", "num_classes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                fail(f"{name} must be a non-negative integer, got {value!r}")
        if not 0 < self.min_radius <= self.max_radius:
            fail(f"need 0 < min_radius <= max_radius, got {self.min_radius} and {self.max_radius}")
        if self.position_encoder in ("grid", "theory", "sphere-c", "sphere-c-plus", "sphere-m",
                                     "sphere-m-plus", "dfs") and self.frequency_num < 2 \
                and self.min_radius != self.max_radius:
            fail("frequency_num must be >= 2 for geometric scales (or min_radius == max_radius)")
        if self.rbf_kernel_size <= 0 or self.rff_sigma <= 0 or self.tile_size <= 0:
            fail("rbf_kernel_size, rff_sigma and tile_size must be positive")
        if len(self.map_range) != 4:
            fail(f"map_range must be (lon_min, lon_max, lat_min, lat_max), got {self.map_range!r}")
        lon_min, lon_max, lat_min, lat_max = self.map_range
        if not (lon_min < lon_max and lat_min < lat_max):
            fail(f"map_range must have lon_min < lon_max and lat_min < lat_max, got {self.map_range!r}")
        if not self.rff_sigmas or any(s <= 0 for s in self.rff_sigmas):
            fail(f"rff_sigmas must be a non-empty tuple of positive numbers, got {self.rff_sigmas!r}")
        if self.activation not in _ACTIVATIONS:
            fail(f"unknown activation {self.activation!r}; choose one of {', '.join(_ACTIVATIONS)}")
        if not 0.0 <= self.dropout < 1.0:
            fail(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.format_version > CONFIG_FORMAT_VERSION:
            fail(f"config format_version {self.format_version} is newer than this geoloc_embed "
                 f"understands ({CONFIG_FORMAT_VERSION}); upgrade with `pip install -U geoloc-embed`")
        # Family and network names are checked where their registries live (geoloc_embed.encoders),
        # so that registering a new family needs no change here.

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["map_range"] = list(self.map_range)
        out["rff_sigmas"] = list(self.rff_sigmas)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LocationEncoderConfig":
        """Build a config from a dict, rejecting unknown keys with a clear message."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a location encoder config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown config field(s) {', '.join(unknown)}; known fields are {', '.join(sorted(known))}. "
                "Was this config.json written by a newer geoloc_embed or by another library?"
            )
        try:
            return cls(**dict(data))
        except TypeError as exc:  # pragma: no cover - defensive: wrong value types
            raise ConfigError(f"invalid config: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "LocationEncoderConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config.json is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> "LocationEncoderConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
