"""What a string given to ``from_pretrained`` names: a Hub repo, a local path, an archive member or a registered model.

The rules, applied in this order (``stat`` is the only disk access; no network):

1. ``hf-hub:org/repo[@revision]``: a Hugging Face repository in our layout.
2. ``local-dir:PATH``: a local path (a model directory, a checkpoint file, ``archive.zip[#member]``), never
   a registered name.
3. ``zoo:NAME``: a registered name (or alias), never a path.
4. Otherwise, a string that is an existing path (checked whole first, so a ``#`` inside a file's name
   works) *and* a registered name is an error naming both and the prefixes above; an existing path
   alone is that path; ``ARCHIVE#MEMBER`` whose part before a ``#`` is an existing file selects
   ``MEMBER`` of that archive (a registered name such as ``csp-inat``, or a member path/pattern); a
   registered name (or alias, any case) alone is that name.
5. Anything else is ``UnresolvedNameError``, with "did you mean" suggestions, the absolute path that
   does not exist, and the ``hf-hub:`` spelling when the string looks like ``org/repo``.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from ..errors import PretrainedNotFoundError, UnknownModelError
from .registry import close_names, list_pretrained, resolve_name

__all__ = ["HF_HUB_PREFIX", "LOCAL_DIR_PREFIX", "ZOO_PREFIX", "HubRepo", "LocalPath", "ArchiveMember",
           "RegisteredName", "ParsedName", "UnresolvedNameError", "parse_name"]

HF_HUB_PREFIX = "hf-hub:"
LOCAL_DIR_PREFIX = "local-dir:"
ZOO_PREFIX = "zoo:"

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class UnresolvedNameError(UnknownModelError, PretrainedNotFoundError):
    """A string that is neither a registered name nor an existing path (a ``KeyError`` and a ``FileNotFoundError``)."""


@dataclass(frozen=True)
class HubRepo:
    """``hf-hub:org/repo[@revision]``."""

    repo_id: str
    revision: Optional[str] = None


@dataclass(frozen=True)
class LocalPath:
    """An existing directory or file."""

    path: Path


@dataclass(frozen=True)
class ArchiveMember:
    """``archive#selector``: a registered name or a member path/pattern inside an existing archive file."""

    archive: Path
    selector: Optional[str]

    @property
    def label(self) -> str:
        """How errors name it: ``archive#selector``."""
        return f"{self.archive}#{self.selector}" if self.selector else str(self.archive)


@dataclass(frozen=True)
class RegisteredName:
    """A registered name (aliases already mapped to it)."""

    name: str


ParsedName = Union[HubRepo, LocalPath, ArchiveMember, RegisteredName]


def parse_name(name_or_path: Union[str, "os.PathLike[str]"]) -> ParsedName:
    """Classify ``name_or_path`` by the rules in this module's docstring.

    Raises:
        UnresolvedNameError: neither a registered name nor an existing path.
        UnknownModelError: an existing path that is also a registered name (the message names both),
            a malformed ``hf-hub:`` id or an unknown ``zoo:`` name.
        TypeError: not a string or path.
    """
    if isinstance(name_or_path, os.PathLike):
        return _local(Path(os.fspath(name_or_path)).expanduser(), str(name_or_path), explicit=True)
    if not isinstance(name_or_path, str):
        raise TypeError(f"from_pretrained expects a name or a path, got {type(name_or_path).__name__}")
    text = name_or_path
    if not text.strip():
        raise UnresolvedNameError("an empty string is not a model name or a path; see geoloc-embed list")
    if text.startswith(HF_HUB_PREFIX):
        return _hub(text[len(HF_HUB_PREFIX):])
    if text.startswith(LOCAL_DIR_PREFIX):
        rest = text[len(LOCAL_DIR_PREFIX):]
        return _local(Path(rest).expanduser(), rest, explicit=True)
    if text.startswith(ZOO_PREFIX):
        rest = text[len(ZOO_PREFIX):]
        registered = resolve_name(rest)
        if registered is None:
            raise UnknownModelError(_unknown(rest, path_hint=False))
        return RegisteredName(registered)

    path = Path(text).expanduser()
    registered = resolve_name(text)
    if path.exists():
        if registered is not None:
            raise UnknownModelError(
                f"{text!r} is both an existing path ({path.absolute()}) and the registered model {registered!r}; "
                f"write '{LOCAL_DIR_PREFIX}{text}' for the path or '{ZOO_PREFIX}{registered}' for the registered "
                "model")
        return LocalPath(path)
    member = _archive_member(text)
    if member is not None:
        return member
    if registered is not None:
        return RegisteredName(registered)
    raise UnresolvedNameError(_unknown(text, path_hint=True))


def _hub(repo: str) -> HubRepo:
    repo_id, _, revision = repo.partition("@")
    if not _REPO_ID.match(repo_id):
        raise UnknownModelError(f"'{HF_HUB_PREFIX}{repo}' is not a Hugging Face repository id: write "
                                f"'{HF_HUB_PREFIX}org/name' or '{HF_HUB_PREFIX}org/name@revision'")
    return HubRepo(repo_id, revision or None)


def _local(path: Path, text: str, explicit: bool) -> ParsedName:
    if path.exists():
        return LocalPath(path)
    member = _archive_member(str(path))
    if member is not None:
        return member
    raise UnresolvedNameError(f"no such file or directory: {path.absolute()}"
                              + ("" if not explicit else f" (from {text!r})"))


def _archive_member(text: str) -> Optional[ArchiveMember]:
    """``ARCHIVE#MEMBER`` where ARCHIVE is an existing file: the longest such prefix wins."""
    position = len(text)
    while True:
        position = text.rfind("#", 0, position)
        if position <= 0:
            return None
        archive = Path(text[:position]).expanduser()
        if archive.is_file():
            return ArchiveMember(archive, text[position + 1:] or None)


def _unknown(text: str, path_hint: bool) -> str:
    message = f"{text!r} is not a registered model name"
    if path_hint:
        message += f" nor an existing file or directory ({Path(text).expanduser().absolute()} does not exist)"
    message += "."
    close = close_names(text)
    if close:
        message += " Did you mean " + " or ".join(repr(n) for n in close) + "?"
    if _REPO_ID.match(text):
        message += f" For a Hugging Face repository write '{HF_HUB_PREFIX}{text}'."
    if "#" in text:
        archive = text.rsplit("#", 1)[0]
        message += f" '#' selects a member of an existing archive, and {archive!r} is not a file."
    message += " Registered names: " + ", ".join(list_pretrained()) + " (geoloc-embed list)."
    return message
