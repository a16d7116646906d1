"""Resolution: one pure function from a name to the ordered list of places to look (DESIGN.md section 4).

``resolve_sources(name)`` parses the name (``geoloc_embed.zoo.names``) and returns every ``Source`` to
try, first hit wins; ``geoloc_embed.zoo.fetch`` then tries them. It reads nothing but the environment
and ``stat`` results, and never the network, so it can be shown to a user ("where would this load
from?") and tested alone. Sources that cannot be used in this call stay in the list with the reason
in ``skipped`` (offline, ``force_download``), so an error can say what was not tried and why.

For each kind of name:

=========================  ==============================================================================
``hf-hub:org/repo[@rev]``  ``hf-cache`` (our layout in the Hugging Face cache), ``hf-download``
existing directory         ``model-dir`` (``config.json`` + ``model.safetensors``)
existing checkpoint file   ``checkpoint`` (a ``.pth.tar``/``.ckpt``/``.pth`` converted in memory)
``ARCHIVE[#SELECTOR]``     ``archive`` (a member of a local zip: a registered name or a member path)
registered name            ``packaged`` (``weights/<name>/``), ``converted-cache``, then by the entry's
                           source: ``pip-wheel``; ``previous-download``, ``url-download``;
                           ``hf-cache``, ``hf-download``
=========================  ==============================================================================
"""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Union

from ..errors import PretrainedNotFoundError, WeightsError
from ..io import CONFIG_NAME, WEIGHTS_NAME
from .env import PathLike, converted_root, downloads_dir, hf_cache_dir, offline_reason, packaged_weights_dir
from .names import ArchiveMember, HubRepo, LocalPath, RegisteredName, parse_name
from .registry import get_pretrained_spec
from .spec import PretrainedSpec

__all__ = ["KINDS", "Source", "resolve_sources", "url_basename", "CONVERTIBLE_SUFFIXES"]

#: Every kind of ``Source``, in no particular order.
KINDS = ("model-dir", "checkpoint", "archive", "packaged", "converted-cache", "pip-wheel",
                "previous-download", "url-download", "hf-cache", "hf-download")
#: Files converted on the fly (``geoloc_embed.convert.detect_converter``).
CONVERTIBLE_SUFFIXES = (".pth.tar", ".tar", ".ckpt", ".pth", ".pt")


@dataclass(frozen=True)
class Source:
    """One place to look.

    Attributes:
        kind: one of ``KINDS``.
        where: what to show the user (a path, a URL, a repo).
        spec: the registry entry when the name is a registered one.
        path: the local file or directory (the destination for downloads; the cache root for
            ``hf-*``).
        selector: ``archive``: the member path/pattern or registered name after ``#`` (None: the
            archive's only checkpoint).
        repo_id, revision, filenames: ``hf-*``.
        url: ``url-download``.
        skipped: why this source is not tried in this call, else None.
    """

    kind: str
    where: str
    spec: Optional[PretrainedSpec] = None
    path: Optional[Path] = None
    selector: Optional[str] = None
    repo_id: Optional[str] = None
    revision: Optional[str] = None
    filenames: tuple[str, ...] = ()
    url: Optional[str] = None
    skipped: Optional[str] = None


def url_basename(url: str) -> str:
    """``model_dir.zip`` for ``https://host/s/x/model_dir.zip?dl=1``."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "download"


def resolve_sources(name_or_path: Union[str, "PathLike"], *, cache_dir: Optional[PathLike] = None,
                    local_files_only: Optional[bool] = None, force_download: bool = False,
                    revision: Optional[str] = None) -> list[Source]:
    """The ordered sources ``from_pretrained(name_or_path, ...)`` tries (see the module docstring).

    Raises the name errors of ``parse_name`` (unknown names fail here, before any network access),
    and for local paths that cannot be a model: a directory without ``config.json``, a bare
    ``.safetensors`` file, a file of an unknown type.
    """
    parsed = parse_name(name_or_path)
    offline = offline_reason(local_files_only)
    if isinstance(parsed, HubRepo):
        rev = revision or parsed.revision
        return _hub_sources(parsed.repo_id, rev, (CONFIG_NAME, WEIGHTS_NAME), cache_dir, offline, force_download,
                            spec=None)
    if isinstance(parsed, ArchiveMember):
        return [Source("archive", parsed.label, path=parsed.archive, selector=parsed.selector)]
    if isinstance(parsed, LocalPath):
        return [_local_source(parsed.path)]
    assert isinstance(parsed, RegisteredName)
    return _registered_sources(get_pretrained_spec(parsed.name), cache_dir, offline, force_download, revision)


def _local_source(path: Path) -> Source:
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            found = sorted(p.name for p in path.iterdir() if p.name.lower().endswith(CONVERTIBLE_SUFFIXES + (".zip",)))
            hint = f"; it holds {found[:3]}: pass one of those files instead" if found else ""
            raise PretrainedNotFoundError(
                f"{path} is a directory without {CONFIG_NAME}: a geoloc_embed model directory holds "
                f"{CONFIG_NAME} and {WEIGHTS_NAME} as written by save_pretrained{hint}")
        return Source("model-dir", str(path), path=path)
    lowered = path.name.lower()
    if lowered.endswith(".zip"):
        return Source("archive", str(path), path=path)
    if lowered.endswith(".safetensors"):
        raise PretrainedNotFoundError(
            f"{path} is a bare safetensors file; pass the directory holding it together with {CONFIG_NAME}")
    if not lowered.endswith(CONVERTIBLE_SUFFIXES):
        raise WeightsError(f"{path}: unsupported file type; expected a CSP/TorchSpatial .pth.tar, a SatCLIP .ckpt, "
                           "a GeoCLIP .pth, a .zip archive, or a directory written by save_pretrained")
    return Source("checkpoint", str(path), path=path)


def _hub_sources(repo_id: str, revision: Optional[str], filenames: tuple[str, ...], cache_dir: Optional[PathLike],
                 offline: Optional[str], force_download: bool, spec: Optional[PretrainedSpec]) -> list[Source]:
    cache = hf_cache_dir(cache_dir)
    cached = Source("hf-cache", f"Hugging Face cache {cache}: {repo_id}/{', '.join(filenames)}", spec=spec,
                    path=cache, repo_id=repo_id, revision=revision, filenames=filenames,
                    skipped="force_download" if force_download and not offline else None)
    download = replace(cached, kind="hf-download", where=f"download from https://huggingface.co/{repo_id}",
                       skipped=offline)
    return [cached, download]


def _registered_sources(spec: PretrainedSpec, cache_dir: Optional[PathLike], offline: Optional[str],
                        force_download: bool, revision: Optional[str]) -> list[Source]:
    force = "force_download" if force_download else None
    packaged = packaged_weights_dir(spec.name)
    if packaged is not None:
        return [Source("packaged", str(packaged), spec=spec, path=packaged)]
    if spec.source == "packaged":
        raise PretrainedNotFoundError(
            f"{spec.name!r} should be packaged with geoloc_embed but weights/{spec.name}/ is missing; "
            "reinstall the package (pip install --force-reinstall geoloc-embed)")
    converted = converted_root(cache_dir) / spec.name
    sources = [Source("packaged", f"packaged weights: no weights/{spec.name}/ in this installation", spec=spec,
                      skipped="not in this installation"),
               Source("converted-cache", str(converted), spec=spec, path=converted, skipped=force)]
    if spec.source == "pip-wheel":
        sources.append(Source("pip-wheel", f"installed package {spec.pip_package!r} ({spec.filename})", spec=spec))
    elif spec.source in ("url-file", "url-zip"):
        dest = downloads_dir(cache_dir) / (spec.filename or url_basename(spec.url or ""))
        sources.append(Source("previous-download", str(dest), spec=spec, path=dest, skipped=force))
        sources.append(Source("url-download", f"download from {spec.url}", spec=spec, path=dest, url=spec.url,
                              skipped=offline))
    elif spec.source == "hf":
        sources += _hub_sources(spec.hf_repo or "", revision or spec.revision, (spec.filename or "",), cache_dir,
                                offline, force_download, spec=spec)
    return sources
