"""Reading one checkpoint out of a zip archive (the CSP authors' ``model_dir.zip``), safely.

* Archives with unsafe member names (absolute paths, ``..``: "zip slip") are refused whole.
* A member is chosen by exact path, fnmatch pattern, or basename pattern; macOS junk is ignored.
* Before anything is extracted, a member larger than its expected size or than ``MAX_MEMBER_BYTES``
  (a generous cap for one location-encoder checkpoint), or compressed more than
  ``MAX_COMPRESSION_RATIO`` times (a zip bomb), is refused; while extracting, a member that grows
  past its declared size is refused too.
* The member is streamed to ``dest_dir / basename`` through a temporary file (never partial), and
  errors name it as ``archive#member``.
"""

import fnmatch
import os
import posixpath
import zipfile
from pathlib import Path, PurePosixPath
from typing import Optional, Union

from ..errors import WeightsError
from ..io import atomic_path

__all__ = ["MAX_MEMBER_BYTES", "MAX_COMPRESSION_RATIO", "CHECKPOINT_SUFFIXES", "safe_member_name",
           "list_checkpoint_members", "find_member", "extract_member"]

#: Largest archive member extracted (bytes): the biggest real checkpoint here is a few tens of MB.
MAX_MEMBER_BYTES = 512 * 1024 * 1024
#: Largest ratio of a member's size to its compressed size (float weights compress about 1.1 times).
MAX_COMPRESSION_RATIO = 50.0
#: Members smaller than this are not ratio-checked (tiny files compress well and cannot hurt).
_RATIO_FLOOR = 1 << 20
CHECKPOINT_SUFFIXES = (".pth.tar", ".pth", ".ckpt", ".pt", ".safetensors")
_CHUNK = 1 << 20
PathLike = Union[str, "os.PathLike[str]"]


def safe_member_name(name: str) -> bool:
    """True when an archive member name cannot escape the extraction directory."""
    if not name or "\x00" in name:
        return False
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return False
    return ".." not in PurePosixPath(normalized).parts


def _junk(name: str) -> bool:
    base = posixpath.basename(name)
    return name.startswith("__MACOSX/") or "/__MACOSX/" in name or base.startswith("._") or base == ".DS_Store"


def _open_zip(archive: PathLike) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise WeightsError(f"{archive} is not a readable zip archive ({exc}); it is truncated or not a zip "
                           "(a download that saved an HTML error page?): delete it and download it again") from exc
    unsafe = [i.filename for i in zf.infolist() if not safe_member_name(i.filename)]
    if unsafe:
        zf.close()
        raise WeightsError(f"{archive} contains unsafe member paths {unsafe[:3]} (absolute or with '..'): "
                           "refusing to use this archive (path traversal / zip slip)")
    return zf


def list_checkpoint_members(archive: PathLike) -> list[str]:
    """Names of checkpoint-like files in a zip (``.pth.tar``, ``.ckpt``, ...), macOS junk excluded."""
    with _open_zip(archive) as zf:
        return [i.filename for i in zf.infolist()
                if not i.is_dir() and not _junk(i.filename) and i.filename.lower().endswith(CHECKPOINT_SUFFIXES)]


def _match(infos: list[zipfile.ZipInfo], member: str) -> list[zipfile.ZipInfo]:
    exact = [i for i in infos if i.filename == member]
    matches = exact or [i for i in infos if fnmatch.fnmatchcase(i.filename, member)]
    if not matches and "/" in member:
        base_pattern = posixpath.basename(member)
        matches = [i for i in infos if fnmatch.fnmatchcase(posixpath.basename(i.filename), base_pattern)]
    return matches


def find_member(archive: PathLike, member: str) -> str:
    """The one member path matching ``member`` (exact path, fnmatch pattern, or basename pattern)."""
    with _open_zip(archive) as zf:
        return _select(zf, archive, member).filename


def _select(zf: zipfile.ZipFile, archive: PathLike, member: str) -> zipfile.ZipInfo:
    infos = [i for i in zf.infolist() if not i.is_dir() and not _junk(i.filename)]
    matches = _match(infos, member)
    if not matches:
        listed = [i.filename for i in infos if i.filename.lower().endswith(CHECKPOINT_SUFFIXES)]
        raise WeightsError(f"{archive} has no member matching {member!r}; checkpoint members are: "
                           f"{listed[:12] or 'none'}")
    if len(matches) > 1:
        names = [m.filename for m in matches][:6]
        raise WeightsError(f"{archive}: {len(matches)} members match {member!r} ({names}); pass the exact member path")
    return matches[0]


def extract_member(archive: PathLike, member: str, dest_dir: PathLike, *, expected_size: Optional[int] = None,
                   max_bytes: int = MAX_MEMBER_BYTES, max_ratio: float = MAX_COMPRESSION_RATIO) -> Path:
    """Extract the one member matching ``member`` as ``dest_dir / basename(member)``; return that path.

    Args:
        archive: the zip file.
        member: exact member path, fnmatch pattern, or basename pattern.
        dest_dir: existing directory to write into (the archive's folders are not recreated).
        expected_size: the member's size when known: any other size is refused before extracting.
        max_bytes: largest member accepted.
        max_ratio: largest uncompressed/compressed size ratio accepted (members over 1 MiB).

    Raises:
        WeightsError: unreadable archive, unsafe member names, no or several matches, a member that is
            too large or too compressed, or a corrupted member (CRC/size); named ``archive#member``.
    """
    with _open_zip(archive) as zf:
        info = _select(zf, archive, member)
        label = f"{archive}#{info.filename}"
        _check_size(info, label, expected_size, max_bytes, max_ratio)
        target = Path(dest_dir) / posixpath.basename(info.filename)
        written = 0
        try:
            with atomic_path(target) as tmp, zf.open(info) as source, open(tmp, "wb") as out:
                for block in iter(lambda: source.read(_CHUNK), b""):
                    written += len(block)
                    if written > info.file_size:
                        raise WeightsError(f"{label} is larger than the archive's header says ({info.file_size:,} "
                                           "bytes): refusing it (a zip bomb or a corrupted archive)")
                    out.write(block)
                if written != info.file_size:
                    raise WeightsError(f"{label} is truncated ({written:,} of {info.file_size:,} bytes); "
                                       "download the archive again")
        except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile, NotImplementedError) as exc:
            raise WeightsError(f"{label} is corrupted or cannot be extracted ({exc}); download the archive "
                               "again") from exc
        return target


def _check_size(info: zipfile.ZipInfo, label: str, expected_size: Optional[int], max_bytes: int,
                max_ratio: float) -> None:
    size, packed = info.file_size, max(info.compress_size, 1)
    if expected_size is not None and size != expected_size:
        raise WeightsError(f"{label} has {size:,} bytes, expected {expected_size:,}: it is not the registered "
                           "file; nothing was extracted")
    if size > max_bytes:
        raise WeightsError(f"{label} would extract to {size:,} bytes, more than the {max_bytes:,} a location-encoder "
                           "checkpoint may have: refusing it before extracting (a zip bomb?)")
    if size > _RATIO_FLOOR and size / packed > max_ratio:
        raise WeightsError(f"{label} is compressed {size / packed:,.0f} times ({packed:,} -> {size:,} bytes), more "
                           f"than the {max_ratio:g} times real weights allow: refusing it before extracting "
                           "(a zip bomb?)")
