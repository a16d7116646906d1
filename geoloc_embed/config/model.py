"""``LocationEncoderConfig``: the architecture of a location encoder, round-tripped through ``config.json``.

A config nests one typed position-encoder config and one typed network config (each with its own
paper's defaults, see ``geoloc_embed.config.position`` / ``.networks``) plus the size of the optional
class head. ``config.json`` holds the architecture only; provenance lives in the registry.

Format 2 (written by ``to_dict`` / ``to_json``)::

    {"format_version": 2,
     "position_encoder": {"family": "grid", "frequency_num": 32, "min_radius": 0.1, "max_radius": 360.0},
     "network": {"name": "csp-ffn", "hidden_dim": 512, ...},
     "num_classes": 0}

``from_dict`` / ``from_json`` also read format 1, the old flat object (see ``legacy``): a dict with
``format_version: 1``, or without ``format_version`` and without nested objects.

Example:
    >>> from geoloc_embed.config import LocationEncoderConfig, SphereMConfig
    >>> LocationEncoderConfig(position_encoder="sphere-m").position_encoder.max_radius  # radians
    1.0
    >>> config = LocationEncoderConfig(position_encoder=SphereMConfig(min_radius=0.001), network="siren")
    >>> config.replace(hidden_dim=128).network.hidden_dim  # routed to the sub-config with that field
    128
"""

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ConfigError
from .base import (
    NetworkConfig,
    NetworkSpec,
    PositionEncoderConfig,
    PositionEncoderSpec,
    network_config,
    position_encoder_config,
)
from .fields import Rule
from .legacy import read_v1

__all__ = ["LocationEncoderConfig", "CONFIG_FORMAT_VERSION", "MAX_CLASSES", "TOP_LEVEL_FIELDS", "format_version_of"]

#: Written into every ``config.json``; bump when a field changes meaning (and keep a reader for the old one).
CONFIG_FORMAT_VERSION = 2
#: Largest class head accepted (iNat2018 has 8,142 classes).
MAX_CLASSES = 1 << 20

_NUM_CLASSES = Rule("int", minimum=0, maximum=MAX_CLASSES, note=f"0 = no class head; at most {MAX_CLASSES:,}")
#: The fields of ``LocationEncoderConfig`` (``format_version`` is only in the JSON).
TOP_LEVEL_FIELDS = ("position_encoder", "network", "num_classes")
_TOP_LEVEL = TOP_LEVEL_FIELDS


@dataclass(frozen=True, init=False)
class LocationEncoderConfig:
    """Architecture of a ``LocationEncoder``: position encoder + network + optional class head.

    Args:
        position_encoder: a typed config (``GridConfig(...)``), a family name (that family's
            defaults; ``geoloc_embed.config.list_position_encoder_configs()``) or a dict with a
            "family" key. Default: CSP's grid.
        network: a typed config (``CSPFFNConfig(...)``), a network name or a dict with a "name" key.
            Default: CSP's FFN.
        num_classes: size of the linear class head (0 = none).

    Attributes:
        position_encoder, network: the typed sub-configs; num_classes: int.
        embed_dim: the embedding size (the network's ``embed_dim``).
    """

    position_encoder: PositionEncoderConfig
    network: NetworkConfig
    num_classes: int

    def __init__(self, position_encoder: PositionEncoderSpec = "grid", network: NetworkSpec = "csp-ffn",
                 num_classes: int = 0) -> None:
        object.__setattr__(self, "position_encoder", position_encoder_config(position_encoder))
        object.__setattr__(self, "network", network_config(network))
        object.__setattr__(self, "num_classes", _NUM_CLASSES.check("LocationEncoderConfig", "num_classes", num_classes))

    @property
    def embed_dim(self) -> int:
        """Size D of the embedding (the network's output width)."""
        return self.network.embed_dim

    # ------------------------------------------------------------------ changes
    def replace(self, **changes: Any) -> "LocationEncoderConfig":
        """A copy with some fields changed (validated again).

        ``position_encoder``, ``network`` and ``num_classes`` replace the top-level fields (a new family
        or network name starts from that one's defaults); any other key is routed to the sub-config
        that has a field of that name, e.g. ``replace(min_radius=0.01, dropout=0.1)``. A key that no
        sub-config has, or that both have, is a ``ConfigError`` listing the valid keys.
        """
        top = {key: changes.pop(key) for key in _TOP_LEVEL if key in changes}
        config = dataclasses.replace(self, **top) if top else self
        if not changes:
            return config
        routed: dict[str, dict[str, Any]] = {"position_encoder": {}, "network": {}}
        for key, value in changes.items():
            routed[config._owner_of(key)][key] = value
        return dataclasses.replace(
            config,
            position_encoder=config.position_encoder.replace(**routed["position_encoder"]),
            network=config.network.replace(**routed["network"]),
        )

    def _owner_of(self, key: str) -> str:
        owners = [name for name in ("position_encoder", "network") if key in getattr(self, name).field_names()]
        if len(owners) == 1:
            return owners[0]
        pe, net = self.position_encoder, self.network
        if owners:
            raise ConfigError(
                f"{key!r} is ambiguous: both the {pe.owner} and the {net.owner} have it; replace the sub-config "
                f"explicitly, e.g. network=config.network.replace({key}=...)")
        raise ConfigError(
            f"unknown field {key!r} for {pe.owner} + {net.owner}; valid keys are: "
            f"{', '.join(self.valid_keys())}")

    def valid_keys(self) -> list[str]:
        """Every key ``replace`` accepts: the top-level fields and both sub-configs' fields."""
        return list(_TOP_LEVEL) + sorted(set(self.position_encoder.field_names()) | set(self.network.field_names()))

    def mismatches(self, expected: Mapping[str, Any]) -> list[str]:
        """Where this config differs from ``expected``, a partial format-2 dict, as ``"path=actual (expected v)"``.

        ``expected`` may name any subset of the keys of ``to_dict()``, nested the same way, e.g.
        ``{"position_encoder": {"family": "grid", "frequency_num": 32}, "num_classes": 62}``; floats
        compare with a relative tolerance of 1e-9. An empty list means every expectation holds.
        """
        return _mismatches(self.to_dict(), expected, "")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Format-2 JSON-able dict (tuples become lists)."""
        return {
            "format_version": CONFIG_FORMAT_VERSION,
            "position_encoder": self.position_encoder.to_dict(),
            "network": self.network.to_dict(),
            "num_classes": self.num_classes,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LocationEncoderConfig":
        """Build a config from a format-2 or format-1 dict, rejecting unknown keys with a clear message."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a location encoder config must be a JSON object, got {type(data).__name__}")
        version = format_version_of(data)
        if version == 1:
            return cls(**read_v1(data))
        fields = {k: v for k, v in data.items() if k != "format_version"}
        unknown = sorted(str(k) for k in set(fields) - set(_TOP_LEVEL))
        if unknown:
            raise ConfigError(
                f"unknown config field(s) {', '.join(unknown)} in a format-2 config; its keys are format_version, "
                f"{', '.join(_TOP_LEVEL)} (the hyperparameters go inside 'position_encoder' / 'network')")
        return cls(**fields)

    @classmethod
    def from_json(cls, text: str) -> "LocationEncoderConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config.json is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def _mismatches(actual: Mapping[str, Any], expected: Mapping[str, Any], prefix: str) -> list[str]:
    out: list[str] = []
    for key, want in expected.items():
        path = f"{prefix}{key}"
        if key not in actual:
            out.append(f"{path} is absent (expected {want!r})")
            continue
        have = actual[key]
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            out += _mismatches(have, want, path + ".")
        elif not _same(have, want):
            out.append(f"{path}={have!r} (expected {want!r})")
    return out


def _same(have: Any, want: Any) -> bool:
    if isinstance(want, (list, tuple)) and isinstance(have, (list, tuple)):
        return len(have) == len(want) and all(_same(h, w) for h, w in zip(have, want, strict=True))
    numeric = (int, float)
    if isinstance(want, numeric) and isinstance(have, numeric) and not isinstance(want, bool) \
            and not isinstance(have, bool) and (isinstance(want, float) or isinstance(have, float)):
        return abs(float(have) - float(want)) <= 1e-9 * max(1.0, abs(float(want)))
    return bool(have == want) and type(have) is type(want)


def format_version_of(data: Mapping[str, Any]) -> int:
    """1 or 2: the declared ``format_version``, else 2 when a sub-config is nested, else 1 (the flat format).

    Raises ``ConfigError`` for a malformed or newer version (with an upgrade hint).
    """
    if "format_version" not in data:
        nested = any(isinstance(data.get(key), (Mapping, PositionEncoderConfig, NetworkConfig))
                     for key in ("position_encoder", "network"))
        return CONFIG_FORMAT_VERSION if nested else 1
    version = data["format_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"format_version={version!r} is not allowed; expected 1 or {CONFIG_FORMAT_VERSION}")
    if version > CONFIG_FORMAT_VERSION:
        raise ConfigError(f"config format_version {version} is newer than this geoloc_embed understands "
                          f"({CONFIG_FORMAT_VERSION}); upgrade with `pip install -U geoloc-embed`")
    return version
