"""The model zoo: from a name to a model directory (or converted weights), never to a model.

Layers, each a module:

* ``spec``, ``registry``, ``catalog``: the registered pretrained models (``list_pretrained``,
  ``get_pretrained_spec``, ``register_pretrained``) and their entries;
* ``names``: what a string names (``hf-hub:``, ``local-dir:``, ``zoo:`` prefixes, paths, ``archive#member``);
* ``resolve``: ``resolve_sources(name)``, the ordered places to look, a pure function;
* ``fetcher``: ``fetch(name)`` tries them: ``download``, ``hf``, ``archive``, ``wheel`` find the file,
  ``provenance`` verifies it, ``geoloc_embed.convert`` converts it, ``cache`` stores the result;
* ``env``, ``locks``, ``messages``: cache locations and offline mode, inter-process locks, errors.

``geoloc_embed.encoders.LocationEncoder.from_pretrained`` calls ``fetch`` and loads the result
strictly; nothing here imports the model.
"""

from . import bundled as _bundled  # noqa: F401 - registers the models trained here
from . import catalog as _catalog  # noqa: F401 - registers the entries
from .env import CACHE_ENV, cache_root, converted_root, downloads_dir, hf_cache_dir, is_offline, packaged_weights_dir
from .fetcher import Fetched, Validator, fetch
from .names import (
    HF_HUB_PREFIX,
    LOCAL_DIR_PREFIX,
    ZOO_PREFIX,
    ArchiveMember,
    HubRepo,
    LocalPath,
    RegisteredName,
    UnresolvedNameError,
    parse_name,
)
from .provenance import SHA256_ENV_PREFIX, sha256_env_var
from .registry import (
    DEFAULT_MODEL,
    get_pretrained_spec,
    list_aliases,
    list_pretrained,
    register_pretrained,
    resolve_name,
    unknown_model_message,
)
from .resolve import Source, resolve_sources
from .spec import SOURCE_KINDS, PretrainedSpec

__all__ = [
    "PretrainedSpec",
    "SOURCE_KINDS",
    "DEFAULT_MODEL",
    "list_pretrained",
    "list_aliases",
    "get_pretrained_spec",
    "register_pretrained",
    "resolve_name",
    "unknown_model_message",
    "HF_HUB_PREFIX",
    "LOCAL_DIR_PREFIX",
    "ZOO_PREFIX",
    "HubRepo",
    "LocalPath",
    "ArchiveMember",
    "RegisteredName",
    "UnresolvedNameError",
    "parse_name",
    "Source",
    "resolve_sources",
    "Fetched",
    "Validator",
    "fetch",
    "CACHE_ENV",
    "SHA256_ENV_PREFIX",
    "sha256_env_var",
    "cache_root",
    "converted_root",
    "downloads_dir",
    "hf_cache_dir",
    "is_offline",
    "packaged_weights_dir",
]
