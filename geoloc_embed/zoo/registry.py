"""The registry of pretrained names: ``register_pretrained``, lookup by name or alias, "did you mean".

The entries themselves are in ``geoloc_embed.zoo.catalog`` and ``.bundled`` (imported by ``geoloc_embed.zoo``).
Lookups are in memory: they never touch the disk or the network.

Example:
    >>> import geoloc_embed as ge
    >>> ge.list_pretrained("csp-*")
    ['csp-bluemarble', 'csp-fmow', 'csp-fmow-ft5', 'csp-geofields', 'csp-inat', 'csp-inat-ft5']
    >>> ge.get_pretrained_spec("csp").name
    'csp-inat'
"""

import difflib
import fnmatch
from typing import Iterable, Optional

from ..errors import UnknownModelError
from .spec import PretrainedSpec

__all__ = [
    "DEFAULT_MODEL",
    "register_pretrained",
    "list_pretrained",
    "list_aliases",
    "resolve_name",
    "close_names",
    "unknown_model_message",
    "get_pretrained_spec",
]

#: Name of the model ``geoloc-embed embed`` uses without ``--model`` (the bundled default).
DEFAULT_MODEL: Optional[str] = "csp-geofields"

_SPECS: dict[str, PretrainedSpec] = {}
_ALIASES: dict[str, str] = {}


def register_pretrained(spec: PretrainedSpec, aliases: Iterable[str] = ()) -> PretrainedSpec:
    """Add ``spec`` (and ``aliases`` pointing to it) to the registry; duplicates are errors."""
    if spec.name in _SPECS or spec.name in _ALIASES:
        raise ValueError(f"pretrained name {spec.name!r} is already registered")
    _SPECS[spec.name] = spec
    for alias in aliases:
        if alias in _SPECS or alias in _ALIASES:
            raise ValueError(f"alias {alias!r} is already registered")
        _ALIASES[alias] = spec.name
    return spec



def list_pretrained(pattern: str = "*") -> list[str]:
    """Sorted registered names matching the fnmatch ``pattern`` (aliases are not listed)."""
    return sorted(name for name in _SPECS if fnmatch.fnmatchcase(name, pattern))


def list_aliases() -> dict[str, str]:
    """``{alias: name}``."""
    return dict(_ALIASES)


def resolve_name(name: str) -> Optional[str]:
    """The registered name for ``name`` or one of its aliases (case-insensitive), else None."""
    key = name.strip().lower()
    if key in _SPECS:
        return key
    return _ALIASES.get(key)


def close_names(name: str) -> list[str]:
    """Registered names close to ``name`` (aliases mapped to their names), best first."""
    candidates = list(_SPECS) + list(_ALIASES)
    close = difflib.get_close_matches(name.strip().lower(), candidates, n=3, cutoff=0.6)
    return list(dict.fromkeys(_ALIASES.get(c, c) for c in close))


def unknown_model_message(name: str) -> str:
    """"unknown pretrained location encoder ..." with "did you mean" suggestions and the registered names."""
    message = f"unknown pretrained location encoder {name!r}."
    close = close_names(name)
    if close:
        message += " Did you mean " + " or ".join(repr(n) for n in close) + "?"
    message += (" It is not a registered name, an existing directory or file, or an 'hf-hub:org/repo' id. "
                "Registered names: " + ", ".join(list_pretrained()) + " (geoloc-embed list).")
    return message


def get_pretrained_spec(name: str) -> PretrainedSpec:
    """The ``PretrainedSpec`` registered as ``name`` (or an alias of it).

    Raises:
        UnknownModelError: with "did you mean" suggestions; never touches the network.
    """
    resolved = resolve_name(name) if isinstance(name, str) else None
    if resolved is None:
        raise UnknownModelError(unknown_model_message(str(name)))
    return _SPECS[resolved]
