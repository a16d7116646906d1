"""Named architectures as data: one JSON file per name in this folder (as open_clip's ``model_configs/``).

Each ``<name>.json`` holds a format-2 ``config`` (see ``geoloc_embed.config``), a one-line
``description``, the ``reference`` (paper) it reproduces and where its hyperparameters come from
(``hyperparameters_from``). ``list_models`` lists the names, ``get_architecture`` reads one, and
``architecture_config(name, **overrides)`` gives its ``LocationEncoderConfig`` with timm-style overrides
(``geoloc_embed.create_model`` builds the untrained model from it). This module imports no torch.

Example:
    >>> from geoloc_embed.architectures import architecture_config, list_models
    >>> list_models("sphere2vec-*")[:2]
    ['sphere2vec-dfs', 'sphere2vec-sphere-c']
    >>> architecture_config("csp-grid", activation="gelu").network.activation
    'gelu'
"""

import difflib
import fnmatch
import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping, Union

from ..config import LocationEncoderConfig, format_version_of
from ..config.model import TOP_LEVEL_FIELDS
from ..errors import ConfigError, UnknownModelError

__all__ = ["Architecture", "list_models", "get_architecture", "architecture_config", "resolve_model_config"]

_KEYS = ("description", "reference", "hyperparameters_from", "config")


@dataclass(frozen=True)
class Architecture:
    """One named architecture: ``config`` plus what it is and where its numbers come from."""

    name: str
    description: str
    reference: str
    hyperparameters_from: str
    config: LocationEncoderConfig


@functools.lru_cache(maxsize=None)
def _catalogue() -> dict[str, Architecture]:
    found: dict[str, Architecture] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name[: -len(".json")]):
        if not entry.name.endswith(".json"):
            continue
        name = entry.name[: -len(".json")]
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"architecture file {entry.name} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or set(data) != set(_KEYS):
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ConfigError(f"architecture file {entry.name} must hold exactly the keys {', '.join(_KEYS)}; "
                              f"got {got}")
        try:
            config = LocationEncoderConfig.from_dict(data["config"])
        except ConfigError as exc:
            raise ConfigError(f"architecture {name!r} ({entry.name}): {exc}") from exc
        found[name] = Architecture(name, str(data["description"]), str(data["reference"]),
                                   str(data["hyperparameters_from"]), config)
    return found


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the named architectures matching the fnmatch ``pattern`` (as ``timm.list_models``)."""
    return sorted(name for name in _catalogue() if fnmatch.fnmatchcase(name, pattern))


def get_architecture(name: str) -> Architecture:
    """The named architecture ``name``.

    Raises:
        UnknownModelError: with "did you mean" suggestions and the list of names.
    """
    catalogue = _catalogue()
    if isinstance(name, str) and name in catalogue:
        return catalogue[name]
    close = difflib.get_close_matches(str(name), list(catalogue), n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise UnknownModelError(f"unknown architecture {name!r}.{hint} Named architectures: {', '.join(catalogue)} "
                            "(geoloc_embed.list_models()); pretrained weights are listed by list_pretrained().")


def architecture_config(name: str, **overrides: Any) -> LocationEncoderConfig:
    """The ``LocationEncoderConfig`` of architecture ``name`` with ``overrides`` applied.

    Overrides follow timm's ``create_model(name, **kwargs)``: ``num_classes``, ``position_encoder`` and
    ``network`` set the top-level fields; any other key goes to the sub-config that has a field of that
    name (``min_radius`` to the position encoder, ``dropout`` to the network). Unknown or ambiguous keys
    raise ``ConfigError`` listing the valid ones (``LocationEncoderConfig.replace``).
    """
    config = get_architecture(name).config
    try:
        return config.replace(**overrides) if overrides else config
    except ConfigError as exc:
        raise ConfigError(f"architecture {name!r}: {exc}") from exc


def resolve_model_config(value: Union[LocationEncoderConfig, str, Mapping[str, Any]]) -> LocationEncoderConfig:
    """A ``LocationEncoderConfig`` from any of the forms a run config's ``model`` section may take.

    * a ``LocationEncoderConfig``;
    * an architecture name (``"csp-grid"``);
    * ``{"architecture": name, **overrides}``: that architecture with timm-style overrides;
    * a format-2 dict, optionally with extra flat keys (``{"format_version": 2, ..., "embed_dim": 512}``,
      as ``--set model.embed_dim=512`` writes them), which are routed like overrides;
    * a format-1 (flat) dict, read with the old flat defaults.
    """
    if isinstance(value, LocationEncoderConfig):
        return value
    if isinstance(value, str):
        value = {"architecture": value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"a model config must be an architecture name, a dict or a LocationEncoderConfig, "
                          f"got {type(value).__name__}")
    data = dict(value)
    if "architecture" in data:
        try:
            return architecture_config(data.pop("architecture"), **data)
        except UnknownModelError as exc:  # in a config file, an unknown name is a config error
            raise ConfigError(str(exc)) from exc
    if format_version_of(data) == 1:
        return LocationEncoderConfig.from_dict(data)
    top = {k: v for k, v in data.items() if k in TOP_LEVEL_FIELDS or k == "format_version"}
    extra = {k: v for k, v in data.items() if k not in top}
    config = LocationEncoderConfig.from_dict(top)
    return config.replace(**extra) if extra else config
