"""Verified, resumable, atomic downloads and safe zip-member extraction (stdlib ``urllib`` only).

* ``download_file``: streams ``url`` to ``<dest>.part`` with a tqdm progress bar while hashing it,
  checks the byte count against ``Content-Length`` and the sha256 when one is known, then renames the
  ``.part`` onto ``dest``. A transfer cut short by a server that supports ``Range`` keeps its
  ``.part`` so the next call resumes from there (``Range: bytes=N-``); any other failure (HTTP error,
  checksum mismatch, server without ranges) deletes it. ``dest`` itself is never partial.
* ``extract_member``: picks one archive member by exact path or fnmatch pattern, refuses archives with
  unsafe member names (absolute paths, ``..``: "zip slip"), streams the member to a file named after its
  basename inside the target directory, atomically, checking its size and CRC.
"""

import fnmatch
import hashlib
import http.client
import logging
import os
import posixpath
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Optional, Union

from ._version import __version__
from .errors import GeolocEmbedError, WeightsError
from .io import atomic_path

__all__ = ["DownloadError", "download_file", "extract_member", "list_checkpoint_members", "sha256_file",
           "safe_member_name"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_USER_AGENT = f"geoloc-embed/{__version__} (+https://pypi.org/project/geoloc-embed/)"
_CHECKPOINT_SUFFIXES = (".pth.tar", ".pth", ".ckpt", ".pt", ".safetensors")


class DownloadError(GeolocEmbedError, OSError):
    """A download that failed (unreachable host, HTTP error, truncated transfer)."""


def sha256_file(path: Union[str, os.PathLike], chunk_size: int = _CHUNK) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def _open(url: str, offset: int, timeout: float):  # type: ignore[no-untyped-def]
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) only, checked by caller


def download_file(
    url: str,
    dest: Union[str, os.PathLike],
    *,
    sha256: Optional[str] = None,
    expected_size: Optional[int] = None,
    progress: bool = True,
    timeout: float = 60.0,
    resume: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (verified, resumable, atomic) and return ``dest``.

    Args:
        url: ``http://`` or ``https://`` URL.
        dest: final path; written only once the whole file has arrived and verified.
        sha256: expected hex digest; a mismatch deletes the download and raises ``WeightsError``.
        expected_size: expected size in bytes when known (checked when no sha256 is given).
        progress: show a tqdm progress bar.
        timeout: socket timeout in seconds.
        resume: resume a previous ``.part`` with an HTTP Range request.

    Raises:
        DownloadError: the host could not be reached, answered with an HTTP error, or the transfer
            ended early.
        WeightsError: the file arrived complete but its checksum or size is wrong.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise DownloadError(f"refusing to download {url!r}: only http(s) URLs are supported")
    dest = Path(dest)
    if dest.is_file():
        if sha256 is None or sha256_file(dest) == sha256:
            return dest
        logger.warning("%s does not match its expected sha256; downloading it again", dest)
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if (resume and part.is_file()) else 0
    if not resume and part.exists():
        part.unlink()

    digest = hashlib.sha256()
    keep_part = False
    try:
        try:
            response = _open(url, offset, timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:  # our .part is stale or complete: start again
                part.unlink()
                offset = 0
                response = _open(url, 0, timeout)
            else:
                raise
        with response:
            status = getattr(response, "status", 200)
            accepts_ranges = (status == 206 or
                              response.headers.get("Accept-Ranges", "").lower() == "bytes")
            length = response.headers.get("Content-Length")
            if offset and status == 206:
                with open(part, "rb") as handle:
                    for block in iter(lambda: handle.read(_CHUNK), b""):
                        digest.update(block)
                mode = "ab"
            else:
                offset = 0
                mode = "wb"
            total = offset + int(length) if length is not None else None
            from tqdm.auto import tqdm

            received = offset
            with open(part, mode) as handle, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=dest.name[:40], disable=not progress, leave=False,
            ) as bar:
                while True:
                    try:
                        block = response.read(_CHUNK)
                    except (OSError, ValueError, http.client.HTTPException) as exc:  # reset / IncompleteRead
                        keep_part = resume and accepts_ranges
                        raise DownloadError(
                            f"download of {url} was interrupted after {received} bytes ({exc}); "
                            + ("call again to resume" if keep_part else "call again to retry")) from exc
                    if not block:
                        break
                    handle.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received != total:
                keep_part = resume and accepts_ranges and received < total
                raise DownloadError(
                    f"download of {url} is truncated: received {received} of {total} bytes; "
                    + ("call again to resume" if keep_part else "call again to retry"))
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256:
            raise WeightsError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}. The file was changed "
                "upstream or tampered with in transit; nothing was kept. Report it if it persists.")
        if sha256 is None and expected_size is not None and received != expected_size:
            logger.warning("%s: expected %d bytes, got %d (no checksum is known for this file)",
                           url, expected_size, received)
        os.replace(part, dest)
        return dest
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"could not reach {url} ({exc.reason}); check your connection, or download "
                            "the file by hand and pass its local path") from exc
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise DownloadError(f"download of {url} failed: {exc}") from exc
    finally:
        if not keep_part and part.exists():
            part.unlink()


# --------------------------------------------------------------------------- archives
def safe_member_name(name: str) -> bool:
    """True when an archive member name cannot escape the extraction directory."""
    if not name or "\x00" in name:
        return False
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return False
    parts = PurePosixPath(normalized).parts
    return ".." not in parts and posixpath.normpath(normalized) not in ("..",) and not normalized.startswith("../")


def _junk(name: str) -> bool:
    base = posixpath.basename(name)
    return name.startswith("__MACOSX/") or "/__MACOSX/" in name or base.startswith("._") or base == ".DS_Store"


def list_checkpoint_members(archive: Union[str, os.PathLike]) -> list[str]:
    """Names of checkpoint-like files in a zip (``.pth.tar``, ``.ckpt``, ...), macOS junk excluded."""
    with _open_zip(archive) as zf:
        return [i.filename for i in zf.infolist()
                if not i.is_dir() and not _junk(i.filename) and i.filename.lower().endswith(_CHECKPOINT_SUFFIXES)]


def _open_zip(archive: Union[str, os.PathLike]) -> zipfile.ZipFile:
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


def extract_member(archive: Union[str, os.PathLike], member: str, dest_dir: Union[str, os.PathLike]) -> Path:
    """Extract the one member matching ``member`` (exact path, fnmatch pattern, or basename pattern).

    The member is written as ``dest_dir / basename(member)`` via a temporary file; the archive's own
    directory structure is never recreated. Returns the extracted path.

    Raises:
        WeightsError: unreadable archive, unsafe member names, no match, several matches, or a
            corrupted member (CRC/size).
    """
    dest_dir = Path(dest_dir)
    with _open_zip(archive) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir() and not _junk(i.filename)]
        exact = [i for i in infos if i.filename == member]
        matches = exact or [i for i in infos if fnmatch.fnmatchcase(i.filename, member)]
        if not matches and "/" in member:
            base_pattern = posixpath.basename(member)
            matches = [i for i in infos if fnmatch.fnmatchcase(posixpath.basename(i.filename), base_pattern)]
        if not matches:
            listed = [i.filename for i in infos if i.filename.lower().endswith(_CHECKPOINT_SUFFIXES)]
            raise WeightsError(f"{archive} has no member matching {member!r}; checkpoint members are: "
                               f"{listed[:12] or 'none'}")
        if len(matches) > 1:
            names = [m.filename for m in matches][:6]
            raise WeightsError(f"{archive}: {len(matches)} members match {member!r} ({names}); "
                               "pass the exact member path")
        info = matches[0]
        target = dest_dir / posixpath.basename(info.filename)
        written = 0
        try:
            with atomic_path(target) as tmp, zf.open(info) as source, open(tmp, "wb") as out:
                for block in iter(lambda: source.read(_CHUNK), b""):
                    written += len(block)
                    if written > info.file_size:
                        raise WeightsError(f"{archive}: member {info.filename} is larger than its header says")
                    out.write(block)
        except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as exc:
            raise WeightsError(f"{archive}: member {info.filename} is corrupted ({exc}); download the archive "
                               "again") from exc
        if written != info.file_size:
            target.unlink(missing_ok=True)
            raise WeightsError(f"{archive}: member {info.filename} is truncated ({written} of {info.file_size} bytes)")
        return target
