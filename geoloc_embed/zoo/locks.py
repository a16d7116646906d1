"""Inter-process locks for the shared cache (``filelock``), and clear errors for a cache that cannot be written.

Many processes may share one cache (the ranks of a ``torchrun`` job, a cluster's workers): every
download and every write of a converted directory happens under a lock on ``<destination>.lock``. The
lock is an OS file lock, released by the kernel if its holder dies.
"""

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

from ..errors import GeolocEmbedError
from .env import CACHE_ENV

__all__ = ["CacheNotWritableError", "locked", "ensure_writable_dir"]

logger = logging.getLogger(__name__)


class CacheNotWritableError(GeolocEmbedError, PermissionError):
    """geoloc_embed's cache directory cannot be created or written."""


def ensure_writable_dir(directory: Path, purpose: str) -> Path:
    """Create ``directory`` (and parents); raise ``CacheNotWritableError`` naming it and ``GEOLOC_EMBED_CACHE``."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {directory}")
    except OSError as exc:
        raise CacheNotWritableError(
            f"cannot {purpose}: the cache directory {directory} is not writable ({exc.strerror or exc}). Set "
            f"{CACHE_ENV} to a writable directory (or pass cache_dir=...), or download the file yourself and "
            "pass its local path") from exc
    return directory


@contextlib.contextmanager
def locked(target: Path, purpose: str, timeout: float = -1) -> Iterator[None]:
    """Hold the lock ``<target>.lock`` (created beside ``target``) for the block.

    Waits for another holder (logging once that it does); ``timeout`` seconds (-1: forever).
    """
    from filelock import FileLock, Timeout  # imported on first use: keeps `import geoloc_embed` light

    ensure_writable_dir(target.parent, purpose)
    lock = FileLock(str(target) + ".lock")
    try:
        lock.acquire(timeout=0.5 if timeout < 0 or timeout > 0.5 else timeout)
    except Timeout:
        logger.info("waiting for another process to finish: %s (lock %s.lock)", purpose, target)
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise GeolocEmbedError(f"gave up waiting {timeout:.0f} s for the lock {target}.lock held by another "
                                   f"process ({purpose})") from exc
    except OSError as exc:
        raise CacheNotWritableError(
            f"cannot {purpose}: cannot create the lock file {target}.lock ({exc.strerror or exc}). Set "
            f"{CACHE_ENV} to a writable directory") from exc
    try:
        yield
    finally:
        lock.release()
