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
from typing import Any

from ..config import LocationEncoderConfig
from ..errors import ConfigError, UnknownModelError

__all__ = ["Architecture", "list_models", "get_architecture", "architecture_config"]

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
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name):
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
