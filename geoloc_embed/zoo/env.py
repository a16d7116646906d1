"""Where the zoo looks, read from the environment at call time: caches, offline mode, packaged weights.

* ``cache_root``: ``cache_dir``, else ``$GEOLOC_EMBED_CACHE``, else ``$XDG_CACHE_HOME/geoloc_embed``,
  else ``~/.cache/geoloc_embed``. It holds ``downloads/`` (original files), ``converted/`` (model
  directories converted from them) and ``records/`` (checksums recorded on first use).
* ``is_offline``: ``local_files_only=True``, or ``HF_HUB_OFFLINE`` set to a true value *now*
  (huggingface_hub itself reads it only when it is imported).
* ``hf_cache_dir``: the Hugging Face cache this call uses (``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ...).

Nothing here opens a socket or imports huggingface_hub.
"""

import importlib.resources
import os
import sys
from pathlib import Path
from typing import Optional, Union

__all__ = ["CACHE_ENV", "cache_root", "is_offline", "offline_reason", "hf_cache_dir", "packaged_weights_dir",
           "downloads_dir", "converted_root", "records_dir"]

#: Environment variable naming geoloc_embed's cache directory.
CACHE_ENV = "GEOLOC_EMBED_CACHE"
_TRUE = {"1", "on", "yes", "true", "y", "t"}
_CONFIG_NAME = "config.json"
_WEIGHTS_NAME = "model.safetensors"

PathLike = Union[str, "os.PathLike[str]"]


def cache_root(cache_dir: Optional[PathLike] = None) -> Path:
    """geoloc_embed's cache: ``cache_dir``, else ``$GEOLOC_EMBED_CACHE``, else ``~/.cache/geoloc_embed``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "geoloc_embed"


def downloads_dir(cache_dir: Optional[PathLike] = None) -> Path:
    """Original files downloaded from their authors' hosts (archives, checkpoints)."""
    return cache_root(cache_dir) / "downloads"


def converted_root(cache_dir: Optional[PathLike] = None) -> Path:
    """Model directories converted from downloaded files, one folder per registered name."""
    return cache_root(cache_dir) / "converted"


def records_dir(cache_dir: Optional[PathLike] = None) -> Path:
    """Checksums of unverifiable sources, recorded on their first use (``geoloc_embed.zoo.provenance``)."""
    return cache_root(cache_dir) / "records"


def is_offline(local_files_only: Optional[bool] = None) -> bool:
    """True when downloads are not allowed: ``local_files_only=True`` or ``HF_HUB_OFFLINE`` set.

    ``HF_HUB_OFFLINE`` is read from the environment at call time; when it is not set at all and
    huggingface_hub is already imported, its ``constants.HF_HUB_OFFLINE`` decides.
    """
    return offline_reason(local_files_only) is not None


def offline_reason(local_files_only: Optional[bool] = None) -> Optional[str]:
    """Why downloads are disabled (``"local_files_only=True"`` / ``"HF_HUB_OFFLINE is set"``), or None."""
    if local_files_only:
        return "local_files_only=True"
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return "HF_HUB_OFFLINE is set" if value.strip().lower() in _TRUE else None
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None and bool(getattr(hub, "HF_HUB_OFFLINE", False)):
        return "HF_HUB_OFFLINE is set"
    return None


def hf_cache_dir(cache_dir: Optional[PathLike] = None) -> Path:
    """The Hugging Face cache of this call: ``cache_dir/huggingface``, else ``$HF_HUB_CACHE``, else
    ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub`` or ``~/.cache/huggingface/hub`` (read now)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser() / "huggingface"
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def packaged_weights_dir(name: str) -> Optional[Path]:
    """``weights/<name>/`` shipped with the package (installed wheel or source checkout), if present."""
    candidates: list[Path] = []
    try:
        candidates.append(Path(str(importlib.resources.files("geoloc_embed") / "weights" / name)))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - namespace/zip imports
        pass
    candidates.append(Path(__file__).resolve().parents[2] / "weights" / name)  # source checkout
    for candidate in candidates:
        if (candidate / _CONFIG_NAME).is_file() and (candidate / _WEIGHTS_NAME).is_file():
            return candidate
    return None
