"""Checksums for sources nobody publishes one for (the CSP authors' ``model_dir.zip``): pin, or record on first use.

A registered file with a sha256 in the registry is verified against it. For one without (``csp-*``):

* the user may pin the expected sha256 of the source file with ``from_pretrained(..., expected_sha256=...)``
  or the environment variable ``GEOLOC_EMBED_SHA256_<NAME>`` (``GEOLOC_EMBED_SHA256_CSP_INAT``); a file
  with another hash is refused;
* otherwise its registered size is checked, and on first use the sha256 of the archive and of the
  member are recorded in ``$GEOLOC_EMBED_CACHE/records/<name>.json`` and printed (a logging warning)
  with how to compare them; a later, different file under the same name is refused, naming both hashes.

This is trust on first use: it cannot tell whether the first file was the authors' own.
"""

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Optional

from .._version import __version__
from ..errors import WeightsError
from ..io import atomic_write_text
from .env import PathLike, records_dir
from .spec import PretrainedSpec

__all__ = ["SHA256_ENV_PREFIX", "sha256_env_var", "expected_sha256", "record_path", "check_record",
           "record_first_use"]

logger = logging.getLogger(__name__)

#: ``GEOLOC_EMBED_SHA256_<NAME>`` pins the sha256 of a registered model's source file.
SHA256_ENV_PREFIX = "GEOLOC_EMBED_SHA256_"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_env_var(name: str) -> str:
    """``GEOLOC_EMBED_SHA256_CSP_INAT`` for ``csp-inat``."""
    return SHA256_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


def expected_sha256(spec: PretrainedSpec, pinned: Optional[str] = None) -> tuple[Optional[str], Optional[str]]:
    """``(sha256, where it comes from)`` the source file of ``spec`` must have, or ``(None, None)``.

    ``pinned`` (the ``expected_sha256`` keyword) wins over the environment variable; a pin that
    contradicts the registry's own checksum is an error.
    """
    variable = sha256_env_var(spec.name)
    value, origin = pinned, "expected_sha256="
    if value is None and os.environ.get(variable):
        value, origin = os.environ[variable], variable
    if value is None:
        return (spec.sha256, "the registry") if spec.sha256 else (None, None)
    value = value.strip().lower()
    if not _SHA256.match(value):
        raise ValueError(f"{origin} must be 64 hex digits (the output of `sha256sum FILE`), got {value!r}")
    if spec.sha256 is not None and value != spec.sha256:
        raise WeightsError(f"{origin} pins sha256 {value} for {spec.name!r}, but the registry verifies its file "
                           f"against {spec.sha256}; remove the pin")
    return value, origin


def record_path(name: str, cache_dir: Optional[PathLike] = None) -> Path:
    """Where the checksums first seen for ``name`` are recorded."""
    return records_dir(cache_dir) / f"{name}.json"


def check_record(spec: PretrainedSpec, source_file: Path, source_sha256: str, member: Optional[str],
                 member_sha256: Optional[str], *, pinned: bool, cache_dir: Optional[PathLike] = None) -> None:
    """Refuse a file that differs from the one first used as ``spec.name`` (unless its hash is pinned).

    Nothing to check when the registry has a checksum (the file was verified against it).
    """
    if spec.sha256 is not None or pinned:
        return
    path = record_path(spec.name, cache_dir)
    record = _read(path)
    if record is None:
        return
    for key, actual, what in (("sha256", source_sha256, source_file.name), ("member_sha256", member_sha256,
                                                                              f"member {member}")):
        if actual is not None and record.get(key) not in (None, actual):
            raise WeightsError(
                f"refusing {source_file}: {what} has sha256 {actual}, but {spec.name!r} was first used on this "
                f"machine with sha256 {record[key]} (recorded in {path} on {record.get('recorded', '?')}). "
                "Nobody publishes a checksum for this file, so a different one may be tampered with. If you "
                f"trust the new file (the authors re-published it), delete {path}, or pin its hash: "
                f"from_pretrained({spec.name!r}, expected_sha256='{source_sha256}') or "
                f"{sha256_env_var(spec.name)}={source_sha256}")


def record_first_use(spec: PretrainedSpec, source_file: Path, source_sha256: str, member: Optional[str],
                     member_sha256: Optional[str], *, pinned: bool, cache_dir: Optional[PathLike] = None) -> None:
    """After a successful conversion: record the checksums of a file first used as ``spec.name``, and print them.

    Call ``check_record`` first. Nothing to do when the registry has a checksum or a record exists; a
    pinned file is recorded without a warning (the user vouched for it).
    """
    if spec.sha256 is not None:
        return
    path = record_path(spec.name, cache_dir)
    existing = _read(path)
    if existing is not None and existing.get("sha256") == source_sha256:
        return
    entry = {"name": spec.name, "file": source_file.name, "sha256": source_sha256,
             "size": source_file.stat().st_size, "member": member, "member_sha256": member_sha256,
             "recorded": time.strftime("%Y-%m-%d %H:%M:%S %z"), "geoloc_embed_version": __version__,
             "pinned": pinned}
    try:
        atomic_write_text(path, json.dumps(entry, indent=2) + "\n")
    except OSError as exc:
        logger.warning("could not record the checksums of %s in %s (%s); set GEOLOC_EMBED_CACHE to a writable "
                       "directory to keep them", source_file, path, exc)
    if pinned:
        return
    lines = [f"first use of {spec.name!r} on this machine. Nobody publishes a checksum for {source_file.name}, so "
             "it cannot be verified; its checksums are recorded and a different file under this name will be "
             "refused:",
             f"  {source_file.name}: sha256 {source_sha256} ({entry['size']:,} bytes)"]
    if member_sha256 is not None:
        lines.append(f"  member {member}: sha256 {member_sha256}")
    lines.append(f"Compare them with `sha256sum {source_file.name}` on a copy from another machine or person; to pin "
                 f"it, pass expected_sha256='{source_sha256}' or set {sha256_env_var(spec.name)}. Record: {path}")
    logger.warning("\n".join(lines))


def _read(path: Path) -> Optional[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        raise WeightsError(f"the checksum record {path} is unreadable ({exc}); delete it to record the file "
                           "again") from exc
    return data if isinstance(data, dict) else None
