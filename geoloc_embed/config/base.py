"""Base classes and registries of the per-family position-encoder configs and per-network configs.

Every family (``"grid"``, ``"sphere-c"``, ...) and every network (``"csp-ffn"``, ``"siren"``, ...)
has one small frozen dataclass holding only the hyperparameters it uses, with its paper's defaults.
A config class registers itself under its name with ``register_position_encoder_config`` /
``register_network_config``; validation lives in the class (field rules plus an optional
``_check`` for constraints between fields), so adding a family never touches a central list.

In ``config.json`` a sub-config is an object holding its name under ``"family"`` (position
encoders) or ``"name"`` (networks) plus its fields.
"""

import dataclasses
from typing import Any, Callable, ClassVar, Mapping, TypeVar, Union

from ..errors import ConfigError
from .fields import validate_fields

__all__ = [
    "SubConfig",
    "PositionEncoderConfig",
    "NetworkConfig",
    "register_position_encoder_config",
    "register_network_config",
    "position_encoder_config_class",
    "network_config_class",
    "list_position_encoder_configs",
    "list_network_configs",
    "position_encoder_config",
    "network_config",
]

S = TypeVar("S", bound="SubConfig")


class SubConfig:
    """Shared behaviour of the typed sub-configs (subclasses are frozen dataclasses).

    ``_kind`` ("position encoder" or "network") and ``_key`` ("family" or "name") say what the
    subclass describes and under which JSON key its registered name is stored.
    """

    _kind: ClassVar[str] = ""
    _key: ClassVar[str] = ""

    @classmethod
    def registered_name(cls) -> str:
        return str(getattr(cls, cls._key, ""))

    @property
    def owner(self) -> str:
        """How errors name this config, e.g. ``position encoder 'grid'``."""
        return f"{self._kind} {self.registered_name()!r}"

    def __post_init__(self) -> None:
        validate_fields(self, self.owner)
        self._check()

    def _check(self) -> None:
        """Constraints between fields (override; raise ``ConfigError`` through ``fields.fail``)."""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """``{"family" | "name": <registered name>, <field>: <JSON value>, ...}`` (tuples become lists)."""
        out: dict[str, Any] = {self._key: self.registered_name()}
        for name in self.field_names():
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def replace(self: S, **changes: Any) -> S:
        """A copy with some fields changed (validated again)."""
        _refuse_unknown(self.owner, changes, self.field_names())
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


class PositionEncoderConfig(SubConfig):
    """Base of the per-family position-encoder configs; ``family`` is the registered name."""

    _kind = "position encoder"
    _key = "family"
    family: ClassVar[str] = ""

    @property
    def feature_dim(self) -> int:
        """Number of features the encoder emits per point (its ``out_dim``)."""
        raise NotImplementedError  # pragma: no cover - every family defines it

    @property
    def num_branches(self) -> int:
        """Equal-width feature blocks meant for separate network branches (GeoCLIP); 1 otherwise."""
        return 1


class NetworkConfig(SubConfig):
    """Base of the per-network configs; ``name`` is the registered name, ``embed_dim`` the output width."""

    _kind = "network"
    _key = "name"
    name: ClassVar[str] = ""
    embed_dim: int


def _refuse_unknown(owner: str, given: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(str(k) for k in set(given) - set(known))
    if unknown:
        raise ConfigError(f"{owner} has no field(s) {', '.join(map(repr, unknown))}; "
                          f"its fields are: {', '.join(known) or 'none (it has no hyperparameters)'}")


_POSITION_ENCODER_CONFIGS: dict[str, type[PositionEncoderConfig]] = {}
_NETWORK_CONFIGS: dict[str, type[NetworkConfig]] = {}

P = TypeVar("P", bound=type[PositionEncoderConfig])
N = TypeVar("N", bound=type[NetworkConfig])


def _register(registry: dict[str, Any], kind: str) -> Callable[[Any], Any]:
    def decorator(cls: Any) -> Any:
        name = cls.registered_name()
        if not name:
            raise ValueError(f"{cls.__name__} must set its {cls._key} name before it is registered")
        if name in registry:
            raise ValueError(f"{kind} config {name!r} is already registered by {registry[name].__name__}")
        registry[name] = cls
        return cls

    return decorator


def register_position_encoder_config(cls: P) -> P:
    """Class decorator: register a ``PositionEncoderConfig`` dataclass under its ``family``."""
    return _register(_POSITION_ENCODER_CONFIGS, "position encoder")(cls)


def register_network_config(cls: N) -> N:
    """Class decorator: register a ``NetworkConfig`` dataclass under its ``name``."""
    return _register(_NETWORK_CONFIGS, "network")(cls)


def _lookup(registry: Mapping[str, Any], kind: str, name: Any) -> Any:
    if not isinstance(name, str) or name not in registry:
        raise ConfigError(f"unknown {kind} {name!r}; choose one of {', '.join(sorted(registry))}")
    return registry[name]


def position_encoder_config_class(family: str) -> type[PositionEncoderConfig]:
    """The config class registered for ``family`` (``ConfigError`` listing the families otherwise)."""
    return _lookup(_POSITION_ENCODER_CONFIGS, "position encoder", family)


def network_config_class(name: str) -> type[NetworkConfig]:
    """The config class registered for network ``name`` (``ConfigError`` listing the networks otherwise)."""
    return _lookup(_NETWORK_CONFIGS, "network", name)


def list_position_encoder_configs() -> list[str]:
    """Sorted families that have a registered config class."""
    return sorted(_POSITION_ENCODER_CONFIGS)


def list_network_configs() -> list[str]:
    """Sorted networks that have a registered config class."""
    return sorted(_NETWORK_CONFIGS)


def _from_mapping(data: Mapping[str, Any], registry: Mapping[str, Any], kind: str, key: str) -> Any:
    if key not in data:
        raise ConfigError(f"a {kind} config object needs its {key!r} key (one of {', '.join(sorted(registry))}), "
                          f"got keys {', '.join(sorted(map(str, data))) or 'none'}")
    cls = _lookup(registry, kind, data[key])
    fields = {k: v for k, v in data.items() if k != key}
    _refuse_unknown(f"{kind} {data[key]!r}", fields, cls.field_names())
    return cls(**fields)


def _coerce(value: Any, base: type, registry: Mapping[str, Any], kind: str, key: str, fields: Mapping[str, Any]
            ) -> Any:
    config: Any
    if isinstance(value, base):
        config = value
    elif isinstance(value, str):
        cls = _lookup(registry, kind, value)
        _refuse_unknown(f"{kind} {value!r}", fields, cls.field_names())
        return cls(**fields)
    elif isinstance(value, Mapping):
        config = _from_mapping(value, registry, kind, key)
    else:
        raise ConfigError(f"a {kind} must be a {base.__name__}, a registered name ({', '.join(sorted(registry))}) "
                          f"or a dict with a {key!r} key, got {type(value).__name__} {value!r}")
    return config.replace(**fields) if fields else config


PositionEncoderSpec = Union[PositionEncoderConfig, str, Mapping[str, Any]]
NetworkSpec = Union[NetworkConfig, str, Mapping[str, Any]]


def position_encoder_config(value: PositionEncoderSpec, **fields: Any) -> PositionEncoderConfig:
    """A typed position-encoder config from a config, a family name (its defaults) or a dict.

    Example:
        >>> position_encoder_config("sphere-c", frequency_num=16).max_radius
        1.0
    """
    return _coerce(value, PositionEncoderConfig, _POSITION_ENCODER_CONFIGS, "position encoder", "family",
                   fields)


def network_config(value: NetworkSpec, **fields: Any) -> NetworkConfig:
    """A typed network config from a config, a network name (its defaults) or a dict with a "name" key."""
    return _coerce(value, NetworkConfig, _NETWORK_CONFIGS, "network", "name", fields)
