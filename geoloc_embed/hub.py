"""Resolve a model name or path to a loaded ``LocationEncoder`` (DESIGN.md section 4).

Resolution order, first hit wins:

1. ``hf-hub:org/repo[@revision]``: our layout (``config.json`` + ``model.safetensors``) through
   ``huggingface_hub.hf_hub_download`` (cache only when offline).
2. An existing local path: a directory written by ``save_pretrained``; an original checkpoint
   (``.pth.tar``, SatCLIP ``.ckpt``, GeoCLIP ``.pth``) converted on the fly; or a ``.zip`` archive such
   as CSP's ``model_dir.zip`` (``path.zip#csp-inat`` or ``path.zip#<member>`` picks the member).
3. A registered name (aliases allowed; unknown names fail here, before any network access):
   a. the package's own ``weights/<name>/`` (sha256-checked, never touches the network);
   b. the converted-weights cache ``$GEOLOC_EMBED_CACHE/converted/<name>/`` (default
      ``~/.cache/geoloc_embed``), written atomically after a first conversion;
   c. a local source that needs no network: the installed pip wheel (GeoCLIP), a previously
      downloaded file in ``$GEOLOC_EMBED_CACHE/downloads/``, or the Hugging Face cache;
   d. a download, unless offline (``local_files_only=True`` or ``HF_HUB_OFFLINE`` set, read at call
      time): Hugging Face repos via ``huggingface_hub``, other URLs via ``geoloc_embed.download``
      (verified, resumable, atomic);
4. otherwise ``PretrainedNotFoundError`` listing every place tried and how to supply the file.

Loading never executes pickled code: our weights are safetensors, foreign checkpoints go through the
converters (``torch.load(weights_only=True)`` with explicit allow-lists).
"""

import importlib.resources
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import torch

from .errors import PretrainedNotFoundError, UnknownModelError, WeightsError
from .io import CONFIG_NAME, WEIGHTS_NAME, atomic_write_text, load_directory

if TYPE_CHECKING:  # pragma: no cover
    from .encoders.model import LocationEncoder
    from .registry import PretrainedSpec

__all__ = ["load_pretrained", "cache_root", "is_offline", "packaged_weights_dir", "converted_cache_dir",
           "HF_HUB_PREFIX"]

logger = logging.getLogger(__name__)

HF_HUB_PREFIX = "hf-hub:"
_SOURCE_RECORD = "source.json"
_CONVERTIBLE_SUFFIXES = (".pth.tar", ".tar", ".ckpt", ".pth", ".pt")
_TRUE = {"1", "on", "yes", "true", "y", "t"}


# --------------------------------------------------------------------------- environment
def cache_root(cache_dir: Union[str, os.PathLike, None] = None) -> Path:
    """geoloc_embed's cache: ``cache_dir``, else ``$GEOLOC_EMBED_CACHE``, else ``~/.cache/geoloc_embed``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("GEOLOC_EMBED_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "geoloc_embed"


def is_offline(local_files_only: Optional[bool] = None) -> bool:
    """True when downloads are not allowed: ``local_files_only=True`` or ``HF_HUB_OFFLINE`` set.

    ``HF_HUB_OFFLINE`` is read from the environment at call time as well as from
    ``huggingface_hub.constants`` (which only reads it at import).
    """
    if local_files_only:
        return True
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    if os.environ.get("HF_HUB_OFFLINE") is not None:  # explicitly set to a false value at call time
        return False
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # pragma: no cover
        return False


def packaged_weights_dir(name: str) -> Optional[Path]:
    """``weights/<name>/`` shipped with the package (installed wheel or source checkout), if present."""
    candidates: list[Path] = []
    try:
        root = importlib.resources.files("geoloc_embed") / "weights" / name
        candidates.append(Path(str(root)))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        pass
    candidates.append(Path(__file__).resolve().parent.parent / "weights" / name)  # source checkout
    for candidate in candidates:
        if (candidate / CONFIG_NAME).is_file() and (candidate / WEIGHTS_NAME).is_file():
            return candidate
    return None


def converted_cache_dir(name: str, cache_dir: Union[str, os.PathLike, None] = None) -> Path:
    return cache_root(cache_dir) / "converted" / name


def _downloads_dir(cache_dir: Union[str, os.PathLike, None]) -> Path:
    return cache_root(cache_dir) / "downloads"


def _hf_cache_dir(cache_dir: Union[str, os.PathLike, None]) -> Optional[str]:
    """Hugging Face cache for this call: ``cache_dir/huggingface``, else ``$HF_HUB_CACHE`` or
    ``$HF_HOME/hub`` read now (``huggingface_hub.constants`` only reads them at import), else the default."""
    if cache_dir is not None:
        return str(Path(cache_dir).expanduser() / "huggingface")
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    return None


def _url_basename(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "download"


# --------------------------------------------------------------------------- entry point
def load_pretrained(
    cls: "type[LocationEncoder]",
    name_or_path: Union[str, os.PathLike],
    *,
    revision: Optional[str] = None,
    cache_dir: Union[str, os.PathLike, None] = None,
    local_files_only: Optional[bool] = None,
    force_download: bool = False,
    token: Union[str, bool, None] = None,
    map_location: Union[str, torch.device] = "cpu",
) -> "LocationEncoder":
    """See ``LocationEncoder.from_pretrained`` and this module's docstring for the resolution order."""
    from .registry import get_pretrained_spec, resolve_name

    text = os.fspath(name_or_path)
    if not isinstance(text, str):
        raise TypeError(f"from_pretrained expects a name or a path, got {type(name_or_path).__name__}")

    if text.startswith(HF_HUB_PREFIX):
        return _load_hf_hub(cls, text[len(HF_HUB_PREFIX):], revision=revision, cache_dir=cache_dir,
                            local_files_only=local_files_only, force_download=force_download, token=token,
                            map_location=map_location)

    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            found = [p.name for p in path.iterdir() if p.name.lower().endswith(_CONVERTIBLE_SUFFIXES + (".zip",))]
            hint = (f"; it holds {found[:3]}: pass one of those files instead" if found else "")
            raise PretrainedNotFoundError(
                f"{path} is a directory without {CONFIG_NAME}: a geoloc_embed model directory holds "
                f"{CONFIG_NAME} and {WEIGHTS_NAME} as written by save_pretrained{hint}")
        return load_directory(cls, path, map_location=map_location)
    zip_path, selector = _split_zip_selector(text)
    if zip_path is not None:
        return _load_local_zip(cls, zip_path, selector, cache_dir=cache_dir, map_location=map_location)
    if path.is_file():
        return _load_local_file(cls, path, map_location=map_location)

    resolved = resolve_name(text)
    if resolved is None:
        if _looks_like_path(text):
            raise PretrainedNotFoundError(
                f"no such file or directory: {path}. Pass an existing directory (save_pretrained), an original "
                "checkpoint file (.pth.tar/.ckpt/.pth), a .zip archive, a registered name (geoloc-embed list) "
                "or 'hf-hub:org/repo'")
        if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", text):
            raise UnknownModelError(
                f"{text!r} is not a registered name or an existing path; for a Hugging Face repository write "
                f"'hf-hub:{text}'")
        get_pretrained_spec(text)  # raises UnknownModelError with "did you mean" (no network)
    spec = get_pretrained_spec(resolved or text)
    return _load_registered(cls, spec, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only,
                            force_download=force_download, token=token, map_location=map_location)


def _looks_like_path(text: str) -> bool:
    lowered = text.lower()
    return (text.startswith((".", "~", "/")) or "\\" in text or text.count("/") > 1 or
            lowered.endswith(_CONVERTIBLE_SUFFIXES + (".zip", ".safetensors", ".json")))


def _split_zip_selector(text: str) -> tuple[Optional[Path], Optional[str]]:
    """``/x/model_dir.zip#csp-inat`` -> (Path, "csp-inat"); ``/x/a.zip`` -> (Path, None); else (None, None)."""
    base, sep, selector = text.partition("#")
    candidate = Path(base).expanduser()
    if base.lower().endswith(".zip") and candidate.is_file():
        return candidate, (selector or None) if sep else None
    return None, None


# --------------------------------------------------------------------------- local inputs
def _finish(model: "LocationEncoder", spec: Optional["PretrainedSpec"],
            map_location: Union[str, torch.device]) -> "LocationEncoder":
    if str(map_location) != "cpu":
        model.to(map_location)
    model.eval()
    model.pretrained_spec = spec
    return model


def _convert(cls: Any, source_file: Path, converter: Optional[str], spec: Optional["PretrainedSpec"]
             ) -> "LocationEncoder":
    from .convert import build_model, convert, detect_converter

    name = converter or detect_converter(source_file)
    config, state = convert(source_file, name)
    if spec is not None:
        if not spec.keep_class_head and config.num_classes:
            config = config.replace(num_classes=0)
            state = {k: v for k, v in state.items() if not k.startswith("class_head.")}
        _check_expected(spec, config, source_file)
    return build_model(config, state, source=source_file, cls=cls)


def _check_expected(spec: "PretrainedSpec", config: Any, source_file: Path) -> None:
    if spec.config is not None and spec.config != config:
        raise WeightsError(f"{source_file}: converted architecture differs from the registry's config for "
                           f"{spec.name!r}; the file is not the one registered")
    wrong = config.mismatches(spec.expected)
    if wrong:
        raise WeightsError(f"{source_file} does not look like {spec.name!r}: {', '.join(wrong)}. It is another "
                           "checkpoint, or the upstream file changed; delete it and download it again")


def _load_local_file(cls: Any, path: Path, map_location: Union[str, torch.device]) -> "LocationEncoder":
    lowered = path.name.lower()
    if lowered.endswith(".safetensors"):
        raise PretrainedNotFoundError(
            f"{path} is a bare safetensors file; pass the directory holding it together with {CONFIG_NAME}")
    if not lowered.endswith(_CONVERTIBLE_SUFFIXES):
        raise WeightsError(f"{path}: unsupported file type; expected a CSP/TorchSpatial .pth.tar, a SatCLIP .ckpt, "
                           "a GeoCLIP .pth, a .zip archive, or a directory written by save_pretrained")
    return _finish(_convert(cls, path, None, None), None, map_location)


def _load_local_zip(cls: Any, archive: Path, selector: Optional[str], *, cache_dir: Any,
                    map_location: Union[str, torch.device]) -> "LocationEncoder":
    from .download import extract_member, list_checkpoint_members
    from .registry import get_pretrained_spec, resolve_name

    spec = None
    if selector is not None and resolve_name(selector) is not None:
        spec = get_pretrained_spec(selector)
        if spec.source != "url-zip" or not spec.member:
            raise PretrainedNotFoundError(f"{spec.name!r} does not come from a zip archive; call "
                                          f"from_pretrained({spec.name!r}) instead")
        member = spec.member
    elif selector is not None:
        member = selector
    else:
        members = list_checkpoint_members(archive)
        if len(members) != 1:
            names = _registered_names_in_archive(archive)
            raise PretrainedNotFoundError(
                f"{archive} holds {len(members)} checkpoints; say which one with '{archive}#<name>' "
                + (f"(registered: {', '.join(names)}) " if names else "")
                + f"or '{archive}#<member path>' (members: {members[:8]})")
        member = members[0]
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=_ensure_dir(cache_root(cache_dir))) as tmp:
        extracted = extract_member(archive, member, tmp)
        model = _convert(cls, extracted, spec.converter if spec else None, spec)
    if spec is not None:  # later from_pretrained(spec.name) calls hit the converted cache, offline
        _write_converted_cache(model, spec, archive, converted_cache_dir(spec.name, cache_dir))
    return _finish(model, spec, map_location)


def _registered_names_in_archive(archive: Path) -> list[str]:
    import fnmatch

    from .download import list_checkpoint_members
    from .registry import get_pretrained_spec, list_pretrained

    members = list_checkpoint_members(archive)
    names = []
    for name in list_pretrained():
        spec = get_pretrained_spec(name)
        if spec.source == "url-zip" and spec.member and any(
                fnmatch.fnmatchcase(m, spec.member) or fnmatch.fnmatchcase(os.path.basename(m),
                                                                           os.path.basename(spec.member))
                for m in members):
            names.append(name)
    return names


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- Hugging Face (our layout)
def _load_hf_hub(cls: Any, repo: str, *, revision: Optional[str], cache_dir: Any, local_files_only: Optional[bool],
                 force_download: bool, token: Any, map_location: Union[str, torch.device]) -> "LocationEncoder":
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from ._version import __version__

    repo_id, _, rev_in_name = repo.partition("@")
    revision = revision or rev_in_name or None
    offline = is_offline(local_files_only)
    hf_cache = _hf_cache_dir(cache_dir)
    paths = {}
    try:
        for filename in (CONFIG_NAME, WEIGHTS_NAME):
            paths[filename] = Path(hf_hub_download(
                repo_id, filename, revision=revision, cache_dir=hf_cache, local_files_only=offline,
                force_download=force_download and not offline, token=token, library_name="geoloc-embed",
                library_version=__version__))
    except LocalEntryNotFoundError as exc:
        raise PretrainedNotFoundError(
            f"hf-hub:{repo}: {filename} is not in the local Hugging Face cache and downloads are disabled "
            f"({'local_files_only=True' if local_files_only else 'HF_HUB_OFFLINE is set'}). Tried: the Hugging "
            f"Face cache{' at ' + hf_cache if hf_cache else ''}. Run once online, or download the repo with "
            f"`hf download {repo_id}` and pass its local directory") from exc
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError, HFValidationError) as exc:
        raise PretrainedNotFoundError(
            f"hf-hub:{repo}: {type(exc).__name__}: {str(exc).splitlines()[0]}. A geoloc_embed Hub repo holds "
            f"{CONFIG_NAME} and {WEIGHTS_NAME} (LocationEncoder.push_to_hub)") from exc
    directory = paths[CONFIG_NAME].parent
    if paths[WEIGHTS_NAME].parent != directory:  # pragma: no cover - same snapshot by construction
        raise WeightsError(f"hf-hub:{repo}: config and weights resolved to different snapshots")
    model = load_directory(cls, directory, map_location=map_location)
    return _finish(model, None, map_location)


# --------------------------------------------------------------------------- registered names
def _load_registered(cls: Any, spec: "PretrainedSpec", *, revision: Optional[str], cache_dir: Any,
                     local_files_only: Optional[bool], force_download: bool, token: Any,
                     map_location: Union[str, torch.device]) -> "LocationEncoder":
    tried: list[str] = []

    # a. packaged weights
    packaged = packaged_weights_dir(spec.name)
    if packaged is not None:
        _verify_packaged(spec, packaged)
        model = load_directory(cls, packaged, map_location=map_location)
        return _finish(model, spec, map_location)
    tried.append(f"packaged weights: no weights/{spec.name}/ in this installation")
    if spec.source == "packaged":
        raise PretrainedNotFoundError(
            f"{spec.name!r} should be packaged with geoloc_embed but weights/{spec.name}/ is missing; "
            "reinstall the package (pip install --force-reinstall geoloc-embed)")

    # b. converted cache
    converted = converted_cache_dir(spec.name, cache_dir)
    if not force_download:
        model = _load_converted_cache(cls, spec, converted, map_location)
        if model is not None:
            return _finish(model, spec, map_location)
    tried.append(f"converted cache: {converted}" + (" (skipped: force_download)" if force_download else " (empty)"))

    offline = is_offline(local_files_only)
    source_file: Optional[Path] = None
    downloaded_now = False
    # c. local sources that need no network
    if spec.source == "pip-wheel":
        source_file = _pip_wheel_file(spec)
        if source_file is None:
            tried.append(f"installed package {spec.pip_package!r}: not installed (or {spec.filename} missing)")
    elif spec.source in ("url-file", "url-zip") and spec.url:
        candidate = _downloads_dir(cache_dir) / (spec.filename or _url_basename(spec.url))
        if candidate.is_file() and not force_download:
            source_file = _verified_download(spec, candidate)
            if source_file is None:
                tried.append(f"previous download: {candidate} (wrong sha256, ignored)")
        else:
            tried.append(f"previous download: {candidate} ("
                         + ("skipped: force_download" if candidate.is_file() else "absent") + ")")
    elif spec.source == "hf":
        if not force_download:
            source_file = _hf_file(spec, revision, cache_dir, True, False, token)
        if source_file is None:
            tried.append(f"Hugging Face cache: {spec.hf_repo}/{spec.filename} ("
                         + ("skipped: force_download" if force_download else "absent") + ")")

    # d. download
    if source_file is None and spec.source in ("url-file", "url-zip", "hf"):
        if offline:
            tried.append("download: skipped ("
                         + ("local_files_only=True" if local_files_only else "HF_HUB_OFFLINE is set") + ")")
        elif spec.source == "hf":
            try:
                source_file = _hf_file(spec, revision, cache_dir, False, force_download, token)
            except PretrainedNotFoundError as exc:
                tried.append(f"download from https://huggingface.co/{spec.hf_repo}: failed")
                raise PretrainedNotFoundError(f"{exc}\n{_not_found_message(spec, tried, cache_dir)}") from exc
        else:
            from .download import DownloadError, download_file

            dest = _downloads_dir(cache_dir) / (spec.filename or _url_basename(spec.url or ""))
            if force_download and dest.exists():
                dest.unlink()
            logger.info("downloading %s for %r", spec.url, spec.name)
            try:
                source_file = download_file(spec.url or "", dest, sha256=spec.sha256,
                                            expected_size=spec.size_bytes)
            except DownloadError as exc:
                tried.append(f"download from {spec.url}: failed")
                raise DownloadError(f"{exc}\n{_not_found_message(spec, tried, cache_dir)}") from exc
            downloaded_now = True
            if spec.source == "url-zip" and spec.sha256 is None:
                _record_download(dest, spec)

    if source_file is None:
        raise PretrainedNotFoundError(_not_found_message(spec, tried, cache_dir))

    try:
        model = _convert_source(cls, spec, source_file, cache_dir)
    except WeightsError as exc:
        if downloaded_now:  # never keep a download that turned out to be unusable
            source_file.unlink(missing_ok=True)
            source_file.with_name(source_file.name + ".sha256").unlink(missing_ok=True)
            raise WeightsError(f"{exc} (the downloaded file was deleted)") from exc
        raise
    _write_converted_cache(model, spec, source_file, converted)
    return _finish(model, spec, map_location)


def _convert_source(cls: Any, spec: "PretrainedSpec", source_file: Path, cache_dir: Any) -> "LocationEncoder":
    if spec.source == "url-zip":
        from .download import extract_member

        with tempfile.TemporaryDirectory(prefix=".extract-", dir=_ensure_dir(cache_root(cache_dir))) as tmp:
            extracted = extract_member(source_file, spec.member or "", tmp)
            if spec.member_sha256 is not None:
                from .download import sha256_file

                actual = sha256_file(extracted)
                if actual != spec.member_sha256:
                    raise WeightsError(f"{source_file}: member {spec.member} has sha256 {actual}, expected "
                                       f"{spec.member_sha256}; delete the archive and download it again")
            return _convert(cls, extracted, spec.converter, spec)
    return _convert(cls, source_file, spec.converter, spec)


def _verified_download(spec: "PretrainedSpec", path: Path) -> Optional[Path]:
    if spec.sha256 is None:
        return path
    from .download import sha256_file

    actual = sha256_file(path)
    if actual != spec.sha256:
        logger.warning("%s has sha256 %s, expected %s; ignoring it", path, actual, spec.sha256)
        return None
    return path


def _record_download(path: Path, spec: "PretrainedSpec") -> None:
    """Remember the sha256 of an unverifiable download (printed by ``info``; helps reproducibility)."""
    from .download import sha256_file

    try:
        atomic_write_text(path.with_name(path.name + ".sha256"), f"{sha256_file(path)}  {path.name}\n")
    except OSError:  # pragma: no cover - best effort
        pass


def _pip_wheel_file(spec: "PretrainedSpec") -> Optional[Path]:
    """Locate ``spec.filename`` inside the installed package without importing it."""
    if not spec.pip_package or not spec.filename:
        return None
    top = spec.filename.split("/", 1)[0]
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    relative = spec.filename.split("/", 1)[1] if "/" in spec.filename else ""
    for location in found.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def _hf_file(spec: "PretrainedSpec", revision: Optional[str], cache_dir: Any, cache_only: bool,
             force_download: bool, token: Any) -> Optional[Path]:
    from huggingface_hub import hf_hub_download

    from ._version import __version__

    hf_cache = _hf_cache_dir(cache_dir)
    try:
        return Path(hf_hub_download(spec.hf_repo or "", spec.filename or "", revision=revision or spec.revision,
                                    cache_dir=hf_cache, local_files_only=cache_only,
                                    force_download=force_download and not cache_only, token=token,
                                    library_name="geoloc-embed", library_version=__version__))
    except Exception as exc:  # LocalEntryNotFoundError (offline / unreachable), HTTP and repo errors
        if cache_only:
            return None
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        raise PretrainedNotFoundError(f"{spec.name}: could not download {spec.filename} from Hugging Face repo "
                                      f"{spec.hf_repo} ({detail})") from exc


def _verify_packaged(spec: "PretrainedSpec", directory: Path) -> None:
    from .config import LocationEncoderConfig
    from .download import sha256_file

    if spec.sha256 is not None:
        actual = sha256_file(directory / WEIGHTS_NAME)
        if actual != spec.sha256:
            raise WeightsError(f"packaged weights {directory / WEIGHTS_NAME} have sha256 {actual}, the registry "
                               f"expects {spec.sha256}: the installation is corrupted; reinstall geoloc-embed")
    if spec.config is not None:
        on_disk = LocationEncoderConfig.from_json((directory / CONFIG_NAME).read_text(encoding="utf-8"))
        if on_disk != spec.config:
            raise WeightsError(f"packaged {directory / CONFIG_NAME} differs from the registry config of "
                               f"{spec.name!r}; reinstall geoloc-embed")


# --------------------------------------------------------------------------- converted cache
def _load_converted_cache(cls: Any, spec: "PretrainedSpec", directory: Path,
                          map_location: Union[str, torch.device]) -> Optional["LocationEncoder"]:
    record_path = directory / _SOURCE_RECORD
    if not (record_path.is_file() and (directory / WEIGHTS_NAME).is_file() and (directory / CONFIG_NAME).is_file()):
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logger.warning("ignoring unreadable converted cache %s", directory)
        return None
    if record.get("source_id") != _source_id(spec):
        logger.info("converted cache %s is from another source (%s); converting again", directory,
                    record.get("source_id"))
        return None
    from .download import sha256_file

    if record.get("weights_sha256") != sha256_file(directory / WEIGHTS_NAME):
        logger.warning("converted cache %s is corrupted (checksum); converting again", directory)
        return None
    return load_directory(cls, directory, map_location=map_location)


def _source_id(spec: "PretrainedSpec") -> str:
    parts = [spec.source, spec.url or "", spec.member or "", spec.hf_repo or "", spec.revision or "",
             spec.filename or "", spec.sha256 or "", spec.converter or "", str(spec.keep_class_head)]
    return "|".join(parts)


def _write_converted_cache(model: "LocationEncoder", spec: "PretrainedSpec", source_file: Path,
                           directory: Path) -> None:
    """Write ``directory`` all at once: build it beside the target, then rename it into place."""
    from ._version import __version__
    from .download import sha256_file

    parent = _ensure_dir(directory.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    try:
        model.pretrained_spec = spec
        model.save_pretrained(tmp)
        record = {
            "name": spec.name,
            "source_id": _source_id(spec),
            "source_file": str(source_file),
            "source_sha256": sha256_file(source_file),
            "converter": spec.converter,
            "weights_sha256": sha256_file(tmp / WEIGHTS_NAME),
            "geoloc_embed_version": __version__,
        }
        (tmp / _SOURCE_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except OSError as exc:  # a read-only cache must not break loading
        logger.warning("could not write the converted cache %s (%s)", directory, exc)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- error message
def _not_found_message(spec: "PretrainedSpec", tried: list[str], cache_dir: Any) -> str:
    lines = [f"could not find the weights of {spec.name!r}. Tried, in order:"]
    lines += [f"  - {entry}" for entry in tried]
    downloads = _downloads_dir(cache_dir)
    if spec.source == "url-zip":
        archive = _url_basename(spec.url or "")
        lines.append(
            f"To supply them: download {archive} from {spec.url} (in a browser if needed), then either put it at "
            f"{downloads / (spec.filename or archive)} and call from_pretrained({spec.name!r}) again, or call "
            f"from_pretrained('/path/to/{archive}#{spec.name}') (CLI: geoloc-embed convert "
            f"/path/to/{archive}#{spec.name} OUT_DIR).")
        if not spec.redistributable:
            lines.append(f"These weights have no license ({spec.license}); geoloc-embed cannot ship them.")
    elif spec.source == "url-file":
        lines.append(f"To supply them: download {spec.url} (sha256 {spec.sha256}) and call "
                     f"from_pretrained('/path/to/{spec.filename}'), or put the file at "
                     f"{downloads / (spec.filename or '')}.")
    elif spec.source == "hf":
        lines.append(f"To supply them: download {spec.filename} from https://huggingface.co/{spec.hf_repo} "
                     f"(or {spec.url}) and call from_pretrained('/path/to/{spec.filename}'), or run once with "
                     "network access (unset HF_HUB_OFFLINE).")
    elif spec.source == "pip-wheel":
        lines.append(f"To supply them: pip install {spec.pip_package} (the weights ship inside its wheel), or call "
                     f"from_pretrained('/path/to/{spec.filename.rsplit('/', 1)[-1] if spec.filename else ''}').")
    return "\n".join(lines)
