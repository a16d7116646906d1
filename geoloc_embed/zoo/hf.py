"""Files from Hugging Face repositories: the local cache without a socket, downloads through huggingface_hub.

``cached_file`` reads the Hugging Face cache layout (``models--org--name/{refs,snapshots}``) with
``huggingface_hub.try_to_load_from_cache``, which only looks at the disk; it never calls
``hf_hub_download``, which builds request headers and may contact the Hub even with
``local_files_only=True`` unless ``HF_HUB_OFFLINE`` was set before huggingface_hub was imported.
``download_file`` is used only when downloads are allowed.
"""

import logging
from pathlib import Path
from typing import Optional, Union

from .._version import __version__
from ..errors import PretrainedNotFoundError

__all__ = ["cached_file", "download_file"]

logger = logging.getLogger(__name__)


def cached_file(repo_id: str, filename: str, revision: Optional[str], cache_dir: Path) -> Optional[Path]:
    """``filename`` of ``repo_id`` at ``revision`` (branch, tag or commit; default ``main``) in ``cache_dir``.

    Returns None when it is not cached. Reads the disk only.
    """
    from huggingface_hub import try_to_load_from_cache  # imported on first use

    try:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache_dir), revision=revision)
    except (ValueError, OSError) as exc:  # malformed filename / unreadable cache
        logger.info("Hugging Face cache lookup of %s/%s failed: %s", repo_id, filename, exc)
        return None
    return Path(found) if isinstance(found, str) else None


def download_file(repo_id: str, filename: str, *, revision: Optional[str], cache_dir: Path, force_download: bool,
                  token: Union[str, bool, None], timeout: Optional[float]) -> Path:
    """Download (or revalidate) ``filename`` with ``hf_hub_download``; errors name the repo and the file.

    ``timeout`` bounds huggingface_hub's metadata request (``etag_timeout``); the transfer itself uses
    its ``HF_HUB_DOWNLOAD_TIMEOUT``.
    """
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=str(cache_dir),
                                    force_download=force_download, token=token, library_name="geoloc-embed",
                                    library_version=__version__,
                                    etag_timeout=10.0 if timeout is None else float(timeout)))
    except Exception as exc:  # HTTP, repository, revision and entry errors, unreachable Hub
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise PretrainedNotFoundError(f"could not download {filename} from Hugging Face repo {repo_id} "
                                      f"({type(exc).__name__}: {first})") from exc
