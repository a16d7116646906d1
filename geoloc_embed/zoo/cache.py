"""The converted-weights cache: ``$GEOLOC_EMBED_CACHE/converted/<name>/``, safe for many processes at once.

Layout::

    converted/<name>/CURRENT           the name of the current version (one line, replaced atomically)
    converted/<name>/v-<digest>/       an immutable model directory: config.json, model.safetensors,
                                       README.md, source.json (where it came from, checksums)
    converted/<name>.lock              held by writers

* Readers read ``CURRENT`` and then only that version's files, which never change once written, so
  they always see a complete old or new model, whatever writers do meanwhile.
* A version's name is a digest of its source, config and tensors (``io.state_digest``): storing an
  identical conversion again writes nothing.
* Writers hold the lock, build a new version under a temporary name, rename it into place, then
  replace ``CURRENT``. A version that stopped being current is deleted by a later writer once it has
  been retired for ``RETIRED_GRACE_S`` seconds (a reader that read ``CURRENT`` just before the switch
  has long finished by then).
* The flat layout of earlier releases (the files directly in ``converted/<name>/``) is still read.
"""

import hashlib
import json
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from .._version import __version__
from ..config import LocationEncoderConfig
from ..io import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    atomic_write_text,
    serialize_weights,
    sha256_file,
    state_digest,
    write_model_files,
)
from .env import PathLike, converted_root
from .locks import locked
from .spec import PretrainedSpec

__all__ = ["CURRENT_NAME", "SOURCE_RECORD", "RETIRED_GRACE_S", "lookup", "store"]

logger = logging.getLogger(__name__)

CURRENT_NAME = "CURRENT"
SOURCE_RECORD = "source.json"
#: Seconds a retired version is kept for readers that are still using it.
RETIRED_GRACE_S = 3600.0
_VERSION = re.compile(r"^v-[0-9a-f]{16}$")


def lookup(spec: PretrainedSpec, cache_dir: Optional[PathLike] = None, *,
           source_sha256: Optional[str] = None) -> Optional[Path]:
    """The current converted model directory of ``spec``, or None (absent, stale or corrupted).

    Stale: converted from another source (``spec.source_id``), or from a file whose sha256 is not
    ``source_sha256`` when that is given (a pinned hash). Corrupted: the weights' sha256 is not the
    recorded one.
    """
    root = converted_root(cache_dir) / spec.name
    try:
        current = (root / CURRENT_NAME).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        current = ""
    except OSError as exc:
        logger.warning("ignoring the unreadable converted cache %s (%s)", root, exc)
        return None
    if current and not _VERSION.match(current):
        logger.warning("ignoring the converted cache %s: %s names no version", root, CURRENT_NAME)
        return None
    directory = root / current if current else root  # flat layout of earlier releases
    record = _read_record(directory)
    if record is None:
        return None
    if record.get("source_id") != spec.source_id:
        logger.info("converted cache %s is from another source (%s); converting again", directory,
                    record.get("source_id"))
        return None
    if source_sha256 is not None and record.get("source_sha256") != source_sha256:
        logger.info("converted cache %s was made from a file with sha256 %s, not the pinned %s; converting again",
                    directory, record.get("source_sha256"), source_sha256)
        return None
    if record.get("weights_sha256") != sha256_file(directory / WEIGHTS_NAME):
        logger.warning("converted cache %s is corrupted (checksum); converting again", directory)
        return None
    return directory


def _read_record(directory: Path) -> Optional[dict[str, Any]]:
    if not ((directory / CONFIG_NAME).is_file() and (directory / WEIGHTS_NAME).is_file()):
        return None
    try:
        record = json.loads((directory / SOURCE_RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        logger.warning("ignoring the converted cache %s: unreadable %s", directory, SOURCE_RECORD)
        return None
    return record if isinstance(record, dict) else None


def store(spec: PretrainedSpec, config: LocationEncoderConfig, state: Mapping[str, Any], *,
          card: Callable[[], str], source: Mapping[str, Any], cache_dir: Optional[PathLike] = None) -> Path:
    """Make ``(config, state)`` the current converted model of ``spec``; return its directory.

    ``source`` is recorded in ``source.json`` (source file, its sha256, member...). Nothing is
    written when the same conversion is already stored.

    Raises:
        OSError (``CacheNotWritableError`` included): the cache cannot be written; the caller decides
            whether to go on without it.
    """
    content = state_digest(state)
    digest = hashlib.sha256("\n".join([spec.source_id, config.to_json(), content]).encode()).hexdigest()
    version = f"v-{digest[:16]}"
    root = converted_root(cache_dir) / spec.name
    with locked(root, f"write the converted cache of {spec.name!r}"):
        target = root / version
        record = _read_record(target)
        if record is None or record.get("weights_sha256") != sha256_file(target / WEIGHTS_NAME):
            data = serialize_weights(state)
            entry = {"name": spec.name, "source_id": spec.source_id, **dict(source), "converter": spec.converter,
                     "weights_sha256": hashlib.sha256(data).hexdigest(), "content_sha256": content,
                     "geoloc_embed_version": __version__}
            _write_version(root, target, config, data, card, entry)
        current = root / CURRENT_NAME
        if not current.is_file() or current.read_text(encoding="utf-8").strip() != version:
            atomic_write_text(current, version + "\n")
        _collect(root, version)
    return target


def _write_version(root: Path, target: Path, config: LocationEncoderConfig, data: bytes, card: Callable[[], str],
                   entry: Mapping[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{target.name}.{time.time_ns()}.tmp"
    tmp.mkdir()
    try:
        write_model_files(tmp, config, data, card=card,
                          extra={SOURCE_RECORD: json.dumps(dict(entry), indent=2, default=str) + "\n"})
        if target.exists():  # a corrupted copy of this version: never current while we hold the lock? replace it
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _collect(root: Path, current: str) -> None:
    """Mark versions that are no longer current as retired; delete those retired long enough ago."""
    now = time.time()
    for entry in root.iterdir():
        name = entry.name
        if _VERSION.match(name) and name != current and entry.is_dir():
            marker = root / f".retired-{name}"
            if not marker.exists():
                marker.touch()
            elif now - marker.stat().st_mtime > RETIRED_GRACE_S:
                shutil.rmtree(entry, ignore_errors=True)
                marker.unlink(missing_ok=True)
        elif name.startswith(".retired-") and not (root / name[len(".retired-"):]).exists():
            entry.unlink(missing_ok=True)
        elif name.endswith(".tmp") and name.startswith(".v-") and now - entry.stat().st_mtime > RETIRED_GRACE_S:
            shutil.rmtree(entry, ignore_errors=True)  # left by a writer that died
    stale = root / f".retired-{current}"
    if stale.exists():
        stale.unlink(missing_ok=True)
