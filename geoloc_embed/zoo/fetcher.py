"""Fetching: try the sources of ``resolve_sources`` in order and return a model directory or converted weights.

``fetch(name)`` returns a ``Fetched``: either a model ``directory`` (``config.json`` +
``model.safetensors``: a local one, the packaged weights, the converted cache, a Hugging Face snapshot)
or an in-memory ``(config, state)`` converted from a foreign checkpoint (a local file, or a registered
one whose cache could not be written). It never builds a model: the caller loads the result strictly
(``LocationEncoder.from_pretrained``). A registered file that is downloaded or found is verified
(sha256, size, or the checksum recorded on first use), converted, checked against the registry's
expected architecture, and stored in the converted cache (``geoloc_embed.zoo.cache``).
"""

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from torch import Tensor

from ..card import render_model_card
from ..config import LocationEncoderConfig
from ..convert import convert
from ..errors import PretrainedNotFoundError, WeightsError
from ..io import CONFIG_NAME, WEIGHTS_NAME, TensorInfo, layout_of, read_config, sha256_file
from . import cache, hf, provenance
from .archive import extract_member, find_member, list_checkpoint_members
from .download import DownloadError, download_file
from .env import PathLike
from .messages import archive_choice_message, hub_not_found_message, not_found_message
from .registry import get_pretrained_spec, resolve_name
from .resolve import Source, resolve_sources
from .spec import PretrainedSpec
from .wheel import pip_wheel_file

__all__ = ["Fetched", "Validator", "fetch"]

logger = logging.getLogger(__name__)

#: ``validate(config, layout, source)`` raises when ``layout`` cannot be the weights of ``config``.
Validator = Callable[[LocationEncoderConfig, Mapping[str, TensorInfo], str], object]


@dataclass(frozen=True)
class Fetched:
    """What a name resolved to: a model ``directory``, or ``config`` + ``state`` converted in memory.

    Attributes:
        source: how errors name it (a path, ``archive#member``, ``hf-hub:org/repo``).
        spec: the registry entry, for registered names (and ``archive#<registered name>``).
    """

    source: str
    directory: Optional[Path] = None
    config: Optional[LocationEncoderConfig] = None
    state: Optional[dict[str, Tensor]] = None
    spec: Optional[PretrainedSpec] = None


@dataclass(frozen=True)
class _Options:
    cache_dir: Optional[PathLike]
    token: Union[str, bool, None]
    timeout: Optional[float]
    expected_sha256: Optional[str]
    force_download: bool
    validate: Optional[Validator]


def fetch(name_or_path: Union[str, PathLike], *, revision: Optional[str] = None, cache_dir: Optional[PathLike] = None,
          local_files_only: Optional[bool] = None, force_download: bool = False, token: Union[str, bool, None] = None,
          timeout: Optional[float] = None, expected_sha256: Optional[str] = None,
          validate: Optional[Validator] = None) -> Fetched:
    """Resolve ``name_or_path`` and fetch the first source that has it.

    Args:
        revision: Hugging Face revision (branch, tag, commit) for ``hf-hub:`` names and Hub sources.
        cache_dir: geoloc_embed's cache (default ``$GEOLOC_EMBED_CACHE``); its ``huggingface/`` folder is
            then the Hugging Face cache.
        local_files_only: never download (also when ``HF_HUB_OFFLINE`` is set): no socket is opened.
        force_download: skip the converted cache and previous downloads; download again.
        token: Hugging Face token.
        timeout: download timeout in seconds (default 60).
        expected_sha256: sha256 the registered model's source file must have (for ``csp-*``: the
            archive); also read from ``GEOLOC_EMBED_SHA256_<NAME>``.
        validate: checks converted weights against their config before they are cached.

    Raises:
        UnknownModelError / UnresolvedNameError: the name is neither registered nor a path.
        PretrainedNotFoundError: no source had the weights (the message lists every place tried).
        WeightsError, DownloadError: a file that is corrupted, unverifiable or not the registered one.
    """
    options = _Options(cache_dir, token, timeout, expected_sha256, force_download, validate)
    sources = resolve_sources(name_or_path, cache_dir=cache_dir, local_files_only=local_files_only,
                              force_download=force_download, revision=revision)
    tried: list[str] = []
    for source in sources:
        if source.skipped is not None:
            tried.append(f"{source.where} (skipped: {source.skipped})")
            continue
        found = _TRY[source.kind](source, options, tried)
        if found is not None:
            return found
    spec = sources[0].spec
    if spec is None:
        raise PretrainedNotFoundError(hub_not_found_message(sources, local_files_only))
    raise PretrainedNotFoundError(not_found_message(spec, tried, cache_dir))


# --------------------------------------------------------------------------- local sources
def _model_dir(source: Source, options: _Options, tried: list[str]) -> Fetched:
    return Fetched(source.where, directory=source.path)


def _checkpoint(source: Source, options: _Options, tried: list[str]) -> Fetched:
    assert source.path is not None
    config, state = convert(source.path, source=str(source.path))
    return Fetched(str(source.path), config=config, state=state)


def _archive(source: Source, options: _Options, tried: list[str]) -> Fetched:
    archive, selector = source.path, source.selector
    assert archive is not None
    spec = None
    if selector is not None and resolve_name(selector) is not None:
        spec = get_pretrained_spec(selector)
        if spec.source != "url-zip" or not spec.member:
            raise PretrainedNotFoundError(f"{spec.name!r} does not come from a zip archive; call "
                                          f"from_pretrained({spec.name!r}) instead")
        return _convert_registered(spec, archive, options, downloaded=False)
    member = selector
    if member is None:
        members = list_checkpoint_members(archive)
        if len(members) != 1:
            raise PretrainedNotFoundError(archive_choice_message(archive, members))
        member = members[0]
    with tempfile.TemporaryDirectory(prefix="geoloc-embed-extract-") as tmp:  # the system's, not the cache
        extracted = extract_member(archive, member, tmp)
        label = f"{archive}#{find_member(archive, member)}"
        config, state = convert(extracted, source=label)
    return Fetched(label, config=config, state=state)


# --------------------------------------------------------------------------- registered sources
def _packaged(source: Source, options: _Options, tried: list[str]) -> Fetched:
    spec, directory = source.spec, source.path
    assert spec is not None and directory is not None
    if spec.sha256 is not None:
        actual = sha256_file(directory / WEIGHTS_NAME)
        if actual != spec.sha256:
            raise WeightsError(f"packaged weights {directory / WEIGHTS_NAME} have sha256 {actual}, the registry "
                               f"expects {spec.sha256}: the installation is corrupted; reinstall geoloc-embed")
    if spec.config is not None and read_config(directory) != spec.config:
        raise WeightsError(f"packaged {directory / CONFIG_NAME} differs from the registry config of {spec.name!r}; "
                           "reinstall geoloc-embed")
    return Fetched(str(directory), directory=directory, spec=spec)


def _converted_cache(source: Source, options: _Options, tried: list[str]) -> Optional[Fetched]:
    spec = source.spec
    pinned, _ = provenance.expected_sha256(spec, options.expected_sha256) if spec is not None else (None, None)
    directory = cache.lookup(spec, options.cache_dir, source_sha256=pinned) if spec is not None else None
    if directory is None:
        tried.append(f"converted cache: {source.where} (empty or stale)")
        return None
    return Fetched(str(directory), directory=directory, spec=spec)


def _pip_wheel(source: Source, options: _Options, tried: list[str]) -> Optional[Fetched]:
    spec = source.spec
    assert spec is not None
    path = pip_wheel_file(spec)
    if path is None:
        tried.append(f"installed package {spec.pip_package!r}: not installed (or {spec.filename} missing)")
        return None
    return _convert_registered(spec, path, options, downloaded=False)


def _previous_download(source: Source, options: _Options, tried: list[str]) -> Optional[Fetched]:
    spec, path = source.spec, source.path
    assert spec is not None and path is not None
    if not path.is_file():
        tried.append(f"previous download: {path} (absent)")
        return None
    pinned, _ = provenance.expected_sha256(spec, options.expected_sha256)
    size = path.stat().st_size
    if pinned is not None and sha256_file(path) != pinned:
        tried.append(f"previous download: {path} (wrong sha256, ignored)")  # a download replaces it
        return None
    if pinned is None and spec.size_bytes is not None and size != spec.size_bytes:
        tried.append(f"previous download: {path} ({size:,} bytes, not the registered {spec.size_bytes:,}; ignored)")
        return None
    return _convert_registered(spec, path, options, downloaded=False)


def _url_download(source: Source, options: _Options, tried: list[str]) -> Fetched:
    spec, dest = source.spec, source.path
    assert spec is not None and dest is not None
    pinned, _ = provenance.expected_sha256(spec, options.expected_sha256)
    logger.info("downloading %s for %r", source.url, spec.name)
    try:
        path = download_file(source.url or "", dest, sha256=pinned, expected_size=None if pinned else spec.size_bytes,
                             timeout=options.timeout, force=options.force_download)
    except DownloadError as exc:
        tried.append(f"download from {source.url}: failed")
        raise DownloadError(f"{exc}\n{not_found_message(spec, tried, options.cache_dir)}") from exc
    return _convert_registered(spec, path, options, downloaded=True)


def _hf(source: Source, options: _Options, tried: list[str]) -> Optional[Fetched]:
    assert source.repo_id is not None and source.path is not None
    paths = []
    for filename in source.filenames:
        if source.kind == "hf-cache":
            found = hf.cached_file(source.repo_id, filename, source.revision, source.path)
            if found is None:
                tried.append(f"Hugging Face cache: {source.repo_id}/{filename} (absent)")
                return None
        else:
            try:
                found = hf.download_file(source.repo_id, filename, revision=source.revision, cache_dir=source.path,
                                         force_download=options.force_download, token=options.token,
                                         timeout=options.timeout)
            except PretrainedNotFoundError as exc:
                if source.spec is None:
                    raise PretrainedNotFoundError(
                        f"hf-hub:{source.repo_id}: {exc}. A geoloc_embed Hub repo holds {CONFIG_NAME} and "
                        f"{WEIGHTS_NAME} (LocationEncoder.push_to_hub)") from exc
                tried.append(f"{source.where}: failed")
                raise PretrainedNotFoundError(
                    f"{source.spec.name}: {exc}\n{not_found_message(source.spec, tried, options.cache_dir)}") from exc
        paths.append(found)
    if source.spec is not None:
        return _convert_registered(source.spec, paths[0], options, downloaded=source.kind == "hf-download")
    directory = paths[0].parent
    if any(p.parent != directory for p in paths):  # pragma: no cover - one snapshot by construction
        raise WeightsError(f"hf-hub:{source.repo_id}: config and weights resolved to different snapshots")
    return Fetched(f"hf-hub:{source.repo_id}", directory=directory)


_TRY: dict[str, Callable[[Source, _Options, list[str]], Optional[Fetched]]] = {
    "model-dir": _model_dir, "checkpoint": _checkpoint, "archive": _archive, "packaged": _packaged,
    "converted-cache": _converted_cache, "pip-wheel": _pip_wheel, "previous-download": _previous_download,
    "url-download": _url_download, "hf-cache": _hf, "hf-download": _hf,
}


# --------------------------------------------------------------------------- conversion of a registered file
def _convert_registered(spec: PretrainedSpec, source_file: Path, options: _Options, downloaded: bool) -> Fetched:
    """Verify, convert, check and cache the source file of a registered model."""
    try:
        return _convert_verified(spec, source_file, options)
    except WeightsError as exc:
        if downloaded and spec.source in ("url-file", "url-zip"):  # never keep a download that is unusable
            source_file.unlink(missing_ok=True)
            raise WeightsError(f"{exc} (the downloaded file was deleted)") from exc
        raise


def _convert_verified(spec: PretrainedSpec, source_file: Path, options: _Options) -> Fetched:
    source_sha256 = sha256_file(source_file)
    pinned, origin = provenance.expected_sha256(spec, options.expected_sha256)
    pinned_by_user = origin not in (None, "the registry")
    if pinned is not None and source_sha256 != pinned:
        raise WeightsError(f"{source_file} has sha256 {source_sha256}, but {origin} expects {pinned}: it is not the "
                           f"file registered as {spec.name!r}; delete it and download it again")
    size = source_file.stat().st_size
    if pinned is None and spec.size_bytes is not None and size != spec.size_bytes:
        raise WeightsError(
            f"{source_file} has {size:,} bytes, but {spec.name!r} is registered with {spec.size_bytes:,} bytes and "
            f"no checksum: it is not the registered file. If you trust it, pin its hash with "
            f"expected_sha256='{source_sha256}' (or {provenance.sha256_env_var(spec.name)})")
    member = member_sha256 = None
    record: dict[str, Any] = {"source_file": str(source_file), "source_sha256": source_sha256}
    if spec.source == "url-zip":
        with tempfile.TemporaryDirectory(prefix="geoloc-embed-extract-") as tmp:  # the system's, not the cache
            member = find_member(source_file, spec.member or "")
            extracted = extract_member(source_file, member, tmp)
            member_sha256 = sha256_file(extracted)
            label = f"{source_file}#{member}"
            if spec.member_sha256 is not None and member_sha256 != spec.member_sha256:
                raise WeightsError(f"{label} has sha256 {member_sha256}, expected {spec.member_sha256}; delete the "
                                   "archive and download it again")
            provenance.check_record(spec, source_file, source_sha256, member, member_sha256, pinned=pinned_by_user,
                                    cache_dir=options.cache_dir)
            config, state = convert(extracted, spec.converter, source=label)
        record.update(member=member, member_sha256=member_sha256)
    else:
        label = str(source_file)
        if spec.source == "url-file":
            provenance.check_record(spec, source_file, source_sha256, None, None, pinned=pinned_by_user,
                                    cache_dir=options.cache_dir)
        config, state = convert(source_file, spec.converter, source=label)
    config, state = _as_registered(spec, config, state, label)
    if options.validate is not None:
        options.validate(config, layout_of(state), label)
    if spec.source in ("url-file", "url-zip"):  # only a file that proved to be the registered model is recorded
        provenance.record_first_use(spec, source_file, source_sha256, member, member_sha256, pinned=pinned_by_user,
                                    cache_dir=options.cache_dir)
    try:
        directory = cache.store(spec, config, state, source=record, cache_dir=options.cache_dir,
                                card=lambda: render_model_card(config, spec=spec, num_params=_count(state),
                                                               citation=spec.citation))
    except OSError as exc:  # a read-only cache must not break loading
        logger.warning("could not write the converted cache of %r (%s); the converted weights are used from "
                       "memory this time. Set GEOLOC_EMBED_CACHE to a writable directory to cache them.",
                       spec.name, exc)
        return Fetched(label, config=config, state=state, spec=spec)
    return Fetched(str(directory), directory=directory, spec=spec)


def _as_registered(spec: PretrainedSpec, config: LocationEncoderConfig, state: dict[str, Tensor], label: str
                   ) -> tuple[LocationEncoderConfig, dict[str, Tensor]]:
    """Drop an untrained class head when the registry says so, then check the registry's expectations."""
    if not spec.keep_class_head and config.num_classes:
        config = config.replace(num_classes=0)
        state = {k: v for k, v in state.items() if not k.startswith("class_head.")}
    if spec.config is not None and spec.config != config:
        raise WeightsError(f"{label}: converted architecture differs from the registry's config for "
                           f"{spec.name!r}; the file is not the one registered")
    wrong = config.mismatches(spec.expected)
    if wrong:
        raise WeightsError(f"{label} does not look like {spec.name!r}: {', '.join(wrong)}. It is another "
                           "checkpoint, or the upstream file changed; delete it and download it again")
    return config, state


def _count(state: Mapping[str, Tensor]) -> int:
    return sum(int(v.numel()) for k, v in state.items())
