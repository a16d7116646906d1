"""Model directories (``config.json`` + ``model.safetensors`` + ``README.md``): atomic writes, strict reads.

Writing:

* ``atomic_path`` / ``atomic_write_text`` / ``atomic_write_bytes``: one file, written under a unique
  temporary name beside the target and renamed onto it; readers never see a half-written file.
* ``replace_directory``: a whole directory, built under a temporary name beside the target and swapped
  in at once (``renameat2(RENAME_EXCHANGE)`` on Linux, else two renames), so a failure while writing
  leaves the old directory intact and loadable.
* ``write_model_files``: the files of a model directory from ``(config, state_dict)``, no model needed.

Reading:

* ``read_config``: ``config.json`` as a typed ``LocationEncoderConfig``, errors naming the file.
* ``read_weights_layout``: the names, dtypes and shapes in a safetensors header, without reading
  the tensors (the file's size is checked against the header by safetensors).
* ``check_layout``: the one strict check of weights against a model's expected layout (missing,
  unexpected, wrong shape, integer/bool instead of floating point), run before the model is allocated.
* ``load_weights``: the tensors, cast to the expected floating dtypes.

``safetensors`` is imported on first use, so ``import geoloc_embed`` stays light.
"""

import contextlib
import ctypes
import errno
import hashlib
import logging
import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Union

import torch
from torch import Tensor

from .config import LocationEncoderConfig
from .errors import ConfigError, PretrainedNotFoundError, WeightsError

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "CARD_NAME", "TensorInfo", "atomic_path", "atomic_write_text",
           "atomic_write_bytes", "sha256_file", "replace_directory", "read_config", "read_weights_layout",
           "layout_of", "check_layout", "load_weights", "cast_to_layout", "state_digest", "serialize_weights",
           "write_model_files"]

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
_CHUNK = 1 << 20
PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------- files
@contextlib.contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """Yield a unique temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

    Readers never see a half-written file, and a failure leaves no partial file behind.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(target: PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: PathLike, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def sha256_file(path: PathLike, chunk_size: int = _CHUNK) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- directories
def replace_directory(target: PathLike, build: Callable[[Path], None], *, keep_existing: bool = False,
                      seed: Iterable[str] = ()) -> Path:
    """Build a directory with ``build(tmp)`` under a temporary name beside ``target``, then swap it in whole.

    Args:
        target: the directory to create or replace (its parents are created).
        build: writes the new directory's files into the (empty, existing) path it is given.
        keep_existing: carry the old directory's other entries (names ``build`` did not write) over
            into the new one (hard links where possible, else copies), as ``save_pretrained`` does.
        seed: names of files copied from the old directory *before* ``build`` runs (``README.md``: a
            builder that writes a file only when it is absent keeps the user's).

    A failure in ``build`` (an exception, a full disk) leaves the old directory untouched and no
    temporary directory behind. Returns ``target``.
    """
    target = Path(os.path.abspath(Path(target).expanduser()))  # "." and "a/.." have no name to build beside
    if target.is_symlink():
        target = target.resolve()
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a directory; choose another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh_dir(target.parent, f".{target.name}.", ".tmp")
    try:
        for name in seed:
            if (target / name).is_file():
                shutil.copy2(target / name, tmp / name)
        build(tmp)
        if keep_existing and target.is_dir():
            _carry_over(target, tmp)
        _swap_in(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _fresh_dir(parent: Path, prefix: str, suffix: str) -> Path:
    """A new empty directory with a unique name (created with the process umask, unlike ``mkdtemp``)."""
    for _ in range(100):
        candidate = parent / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    raise FileExistsError(f"could not create a temporary directory in {parent}")  # pragma: no cover


def _carry_over(old: Path, new: Path) -> None:
    for entry in old.iterdir():
        if (new / entry.name).exists() or (new / entry.name).is_symlink():
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry), new / entry.name)
        elif entry.is_dir():
            shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(new / entry.name))


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _swap_in(new: Path, target: Path) -> None:
    """Put ``new`` at ``target`` in one step; the old ``target`` (if any) is deleted afterwards."""
    if not target.exists():
        try:
            os.rename(new, target)
            return
        except OSError as exc:  # created meanwhile by another process: swap with it
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    cwd = Path.cwd().resolve()
    if cwd == target.resolve() or target.resolve() in cwd.parents:
        # renaming the working directory would leave this process in a deleted one: move file by file
        logger.warning("%s is (or contains) the working directory: its files are replaced one by one "
                       "instead of swapping the directory at once", target)
        for entry in new.iterdir():
            if (target / entry.name).is_dir() and not (target / entry.name).is_symlink():
                shutil.rmtree(target / entry.name)
            os.replace(entry, target / entry.name)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # now holds the old directory
        return
    old = _fresh_dir(target.parent, f".{target.name}.", ".old")
    old.rmdir()
    os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths with Linux ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # pragma: no cover - glibc < 2.28, musl
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(result == 0)


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class TensorInfo:
    """What a tensor is, without its values: ``dtype`` and ``shape``."""

    dtype: torch.dtype
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{str(self.dtype).replace('torch.', '')}{list(self.shape)}"


def layout_of(state: Mapping[str, Tensor]) -> dict[str, TensorInfo]:
    """``{name: TensorInfo}`` of a state dict (meta tensors allowed)."""
    return {k: TensorInfo(v.dtype, tuple(v.shape)) for k, v in state.items()}


def read_config(directory: PathLike) -> LocationEncoderConfig:
    """``directory/config.json`` as a ``LocationEncoderConfig``; errors name the file and the fix."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise PretrainedNotFoundError(
            f"{Path(directory)} has no {CONFIG_NAME}; a geoloc_embed model directory holds {CONFIG_NAME} and "
            f"{WEIGHTS_NAME} as written by LocationEncoder.save_pretrained(dir)")
    try:
        return LocationEncoderConfig.from_json(path.read_text(encoding="utf-8"))
    except (ConfigError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_weights_layout(path: PathLike) -> dict[str, TensorInfo]:
    """Names, dtypes and shapes in a safetensors file's header; no tensor is read.

    Raises:
        WeightsError: unreadable or truncated file (safetensors checks that the header's offsets cover
            the file exactly), or a dtype torch cannot hold.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise PretrainedNotFoundError(f"{path.parent} has {CONFIG_NAME} but no {WEIGHTS_NAME}")
    layout: dict[str, TensorInfo] = {}
    try:
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                view = handle.get_slice(key)
                name = view.get_dtype()
                if name not in _SAFETENSORS_DTYPES:
                    raise WeightsError(f"{path}: tensor {key!r} has dtype {name}, which geoloc_embed does not "
                                       "load; re-save the model with save_pretrained")
                layout[key] = TensorInfo(_SAFETENSORS_DTYPES[name], tuple(int(n) for n in view.get_shape()))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file ({exc}); the file is corrupted or "
                           "truncated: delete it and download or convert it again") from exc
    return layout


def check_layout(found: Mapping[str, TensorInfo], expected: Mapping[str, TensorInfo], source: str,
                 *, config_hint: str = "", limit: int = 5) -> None:
    """Raise ``WeightsError`` unless ``found`` has exactly the names and shapes of ``expected``.

    Floating-point tensors may come in any floating dtype (they are cast on loading); a non-floating
    tensor (integer, bool) where the model holds floating-point values is an error naming the tensor
    and its dtype, as is any dtype difference for a non-floating model tensor.
    """
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shared = sorted(set(found) & set(expected))
    shapes = [k for k in shared if found[k].shape != expected[k].shape]
    dtypes = [k for k in shared if not _dtype_fits(found[k].dtype, expected[k].dtype)]
    parts = []
    if missing:
        parts.append(f"missing tensors {missing[:limit]}{' ...' if len(missing) > limit else ''}")
    if unexpected:
        parts.append(f"unexpected tensors {unexpected[:limit]}{' ...' if len(unexpected) > limit else ''}")
    if shapes:
        parts.append("shape mismatch for " + ", ".join(
            f"{k} (weights {list(found[k].shape)}, config {list(expected[k].shape)})" for k in shapes[:limit]))
    if dtypes:
        parts.append("wrong dtype for " + ", ".join(
            f"{k} (weights {str(found[k].dtype).replace('torch.', '')}, the model holds "
            f"{str(expected[k].dtype).replace('torch.', '')})" for k in dtypes[:limit]))
    if parts:
        raise WeightsError(f"{source} does not match its config: {'; '.join(parts)}. "
                           + (config_hint or "The weights and config.json must come from the same "
                              "save_pretrained call; nothing was allocated for them."))


def _dtype_fits(found: torch.dtype, expected: torch.dtype) -> bool:
    if expected.is_floating_point:
        return found.is_floating_point
    return found == expected


def load_weights(path: PathLike, expected: Mapping[str, TensorInfo],
                 device: Union[str, torch.device] = "cpu") -> dict[str, Tensor]:
    """The tensors of a safetensors file on ``device``, floating ones cast to the ``expected`` dtypes."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file ({exc}); the file is corrupted or "
                           "truncated: delete it and download or convert it again") from exc
    return cast_to_layout(state, expected)


def cast_to_layout(state: Mapping[str, Tensor], expected: Mapping[str, TensorInfo]) -> dict[str, Tensor]:
    """``state`` with each floating tensor cast to the expected dtype (others unchanged)."""
    out = {}
    for key, value in state.items():
        want = expected[key].dtype if key in expected else value.dtype
        out[key] = value.to(want) if value.is_floating_point() and value.dtype != want else value
    return out


# --------------------------------------------------------------------------- writing
def state_digest(state: Mapping[str, Tensor]) -> str:
    """sha256 of a state dict's names, dtypes, shapes and values (independent of how a file orders them).

    safetensors files of the same tensors may differ in their header's metadata order, so identity of
    weights is decided on this digest, not on file bytes.
    """
    digest = hashlib.sha256()
    for key in sorted(state):
        value = state[key].detach().contiguous().cpu()
        digest.update(f"{key}|{value.dtype}|{list(value.shape)}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def serialize_weights(state: Mapping[str, Tensor]) -> bytes:
    """safetensors bytes of ``state`` (contiguous CPU copies; metadata names the library)."""
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    return save(tensors, metadata={"format": "pt", "library": "geoloc-embed"})


def write_model_files(directory: PathLike, config: LocationEncoderConfig, weights: Union[bytes, Mapping[str, Tensor]],
                      card: Optional[Callable[[], str]] = None, extra: Optional[Mapping[str, Any]] = None) -> None:
    """Write ``model.safetensors``, ``config.json`` and (when absent) ``README.md`` into ``directory``.

    Each file is written atomically; ``extra`` maps more file names to text. For a directory that must
    change as a whole, call this inside ``replace_directory``.
    """
    directory = Path(directory)
    data = weights if isinstance(weights, bytes) else serialize_weights(weights)
    atomic_write_bytes(directory / WEIGHTS_NAME, data)
    atomic_write_text(directory / CONFIG_NAME, config.to_json())
    if card is not None and not (directory / CARD_NAME).exists():
        atomic_write_text(directory / CARD_NAME, card())
    for name, text in (extra or {}).items():
        atomic_write_text(directory / name, str(text))
