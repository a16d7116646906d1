"""Verified, resumable, atomic and locked downloads of one URL to one file (stdlib ``urllib``).

``download_file(url, dest)``:

* takes the lock ``<dest>.lock`` first, so concurrent callers (the ranks of a ``torchrun`` job) never
  share a partial file: the first downloads, the others wait and then reuse the finished ``dest``;
* streams into a unique temporary file beside ``dest`` while hashing it, checks the byte count
  against ``Content-Length`` (which must be a number) and against ``expected_size``, and the sha256
  when one is known, then renames it onto ``dest``. ``dest`` is never partial, and a verified
  ``dest`` is never written to again (a replacement is a new file renamed over it);
* keeps a transfer cut short by a server that supports ``Range`` as ``<dest>.part`` so the next
  call resumes from there (``Range: bytes=N-``); any other failure deletes it.
"""

import hashlib
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Optional, Union

from .._version import __version__
from ..errors import GeolocEmbedError, WeightsError
from ..io import sha256_file
from .locks import ensure_writable_dir, locked

__all__ = ["DownloadError", "DEFAULT_TIMEOUT", "download_file"]

logger = logging.getLogger(__name__)

#: Seconds a connection may stay silent before a download gives up.
DEFAULT_TIMEOUT = 60.0
_CHUNK = 1 << 20
_USER_AGENT = f"geoloc-embed/{__version__} (+https://pypi.org/project/geoloc-embed/)"


class DownloadError(GeolocEmbedError, OSError):
    """A download that failed (unreachable host, HTTP error, truncated transfer, malformed answer)."""


def _open(url: str, offset: int, timeout: float) -> Any:
    import urllib.request  # imported on first use: keeps `import geoloc_embed` light

    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) only, checked by caller


def _is_complete(dest: Path, sha256: Optional[str], expected_size: Optional[int]) -> bool:
    if not dest.is_file():
        return False
    if sha256 is not None:
        return sha256_file(dest) == sha256
    return expected_size is None or dest.stat().st_size == expected_size


def download_file(
    url: str,
    dest: Union[str, "os.PathLike[str]"],
    *,
    sha256: Optional[str] = None,
    expected_size: Optional[int] = None,
    progress: bool = True,
    timeout: Optional[float] = None,
    resume: bool = True,
    force: bool = False,
) -> Path:
    """Download ``url`` to ``dest`` (verified, resumable, atomic, locked) and return ``dest``.

    Args:
        url: ``http://`` or ``https://`` URL.
        dest: final path; written only once the whole file has arrived and been verified.
        sha256: expected hex digest; a mismatch deletes the download and raises ``WeightsError``.
        expected_size: expected size in bytes; when no sha256 is known, a file of another size is
            refused (before the transfer when the server announces its size).
        progress: show a tqdm progress bar.
        timeout: socket timeout in seconds (default ``DEFAULT_TIMEOUT``).
        resume: resume a previous ``<dest>.part`` with an HTTP Range request.
        force: download again even when ``dest`` is already complete (it is replaced, not modified).

    Raises:
        DownloadError: the host could not be reached, answered with an HTTP error or a malformed
            ``Content-Length``, or the transfer ended early.
        WeightsError: the file arrived complete but its checksum or size is wrong.
        CacheNotWritableError: ``dest``'s directory cannot be written.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise DownloadError(f"refusing to download {url!r}: only http(s) URLs are supported")
    dest = Path(dest)
    ensure_writable_dir(dest.parent, f"download {url}")
    with locked(dest, f"download {dest.name}"):
        if not force and _is_complete(dest, sha256, expected_size):  # finished by another process, or earlier
            return dest
        if dest.is_file() and not force:
            logger.warning("%s does not match its expected %s; downloading it again", dest,
                           "sha256" if sha256 else "size")
        return _download_locked(url, dest, sha256, expected_size, progress,
                                DEFAULT_TIMEOUT if timeout is None else float(timeout), resume)


def _download_locked(url: str, dest: Path, sha256: Optional[str], expected_size: Optional[int], progress: bool,
                     timeout: float, resume: bool) -> Path:
    import http.client
    import urllib.error

    part = dest.with_name(dest.name + ".part")  # the resumable leftover of an interrupted transfer
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")  # this call's own file
    if part.is_file() and resume:
        os.replace(part, tmp)
    elif part.exists():
        part.unlink()
    offset = tmp.stat().st_size if tmp.is_file() else 0
    digest = hashlib.sha256()
    keep_partial = accepts_ranges = False
    try:
        try:
            response = _open(url, offset, timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:  # the partial file is stale or complete: start again
                tmp.unlink()
                offset = 0
                response = _open(url, 0, timeout)
            else:
                raise
        with response:
            status = getattr(response, "status", 200)
            accepts_ranges = status == 206 or response.headers.get("Accept-Ranges", "").lower() == "bytes"
            length = _content_length(response.headers.get("Content-Length"), url)
            if offset and status == 206:
                with open(tmp, "rb") as handle:
                    for block in iter(lambda: handle.read(_CHUNK), b""):
                        digest.update(block)
                mode = "ab"
            else:
                offset = 0
                mode = "wb"
            total = offset + length if length is not None else None
            if sha256 is None and expected_size is not None and total is not None and total != expected_size:
                raise WeightsError(f"{url} offers {total:,} bytes but the registry expects {expected_size:,} "
                                   "bytes: it is not the registered file (changed upstream, or an error page); "
                                   "nothing was downloaded")
            limit = expected_size if sha256 is None and expected_size is not None else total
            received = _stream(response, tmp, mode, digest, offset, total, limit, dest.name, progress, url,
                               http.client.HTTPException)
            if total is not None and received != total:
                keep_partial = resume and accepts_ranges and received < total
                raise DownloadError(f"download of {url} is truncated: received {received} of {total} bytes; "
                                    + ("call again to resume" if keep_partial else "call again to retry"))
        _verify(url, digest.hexdigest(), received, sha256, expected_size)
        os.replace(tmp, dest)
        return dest
    except _Interrupted as exc:
        keep_partial = resume and accepts_ranges
        raise DownloadError(f"download of {url} was interrupted after {exc.received} bytes ({exc.reason}); "
                            + ("call again to resume" if keep_partial else "call again to retry")) from exc.reason
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"could not reach {url} ({exc.reason}); check your connection, or download "
                            "the file by hand and pass its local path") from exc
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise DownloadError(f"download of {url} failed: {exc} (timeout {timeout:g} s; pass timeout= to "
                            "wait longer)") from exc
    finally:
        if tmp.exists():
            if keep_partial:
                os.replace(tmp, part)
            else:
                tmp.unlink()


class _Interrupted(Exception):
    def __init__(self, received: int, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.received = received
        self.reason = reason


def _content_length(value: Optional[str], url: str) -> Optional[int]:
    if value is None:
        return None
    try:
        length = int(value.strip())
    except ValueError:
        length = -1
    if length < 0:
        raise DownloadError(f"{url} answered with a malformed Content-Length {value!r} (not a byte count); the "
                            "server or a proxy in between is broken: try again later, or download the file by "
                            "hand and pass its local path")
    return length


def _stream(response: Any, tmp: Path, mode: str, digest: Any, offset: int, total: Optional[int],
            limit: Optional[int], desc: str, progress: bool, url: str,
            http_exception: type[BaseException]) -> int:
    from tqdm.auto import tqdm

    received = offset
    with open(tmp, mode) as handle, tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                                         desc=desc[:40], disable=not progress, leave=False) as bar:
        while True:
            try:
                block = response.read(_CHUNK)
            except (OSError, ValueError, http_exception) as exc:  # reset / IncompleteRead / timeout
                raise _Interrupted(received, exc) from exc
            if not block:
                return received
            received += len(block)
            if limit is not None and received > limit:
                raise WeightsError(f"{url} sent more than the {limit:,} bytes expected; refusing the file "
                                   "(nothing was kept)")
            handle.write(block)
            digest.update(block)
            bar.update(len(block))


def _verify(url: str, actual: str, received: int, sha256: Optional[str], expected_size: Optional[int]) -> None:
    if sha256 is not None and actual != sha256:
        raise WeightsError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}. The file was "
                           "changed upstream or tampered with in transit; nothing was kept. Report it if it persists.")
    if sha256 is None and expected_size is not None and received != expected_size:
        raise WeightsError(f"{url}: expected {expected_size:,} bytes, got {received:,}; it is not the registered "
                           "file (no checksum is known for it, so its size is checked); nothing was kept")
