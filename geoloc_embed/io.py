"""Atomic file writes and strict loading of ``config.json`` + ``model.safetensors`` directories."""

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Union

import torch

from .config import LocationEncoderConfig
from .errors import ConfigError, PretrainedNotFoundError, WeightsError

if TYPE_CHECKING:  # pragma: no cover
    from .encoders.model import LocationEncoder

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "describe_state_mismatch", "load_directory",
           "load_weights_into"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@contextlib.contextmanager
def atomic_path(target: Union[str, os.PathLike]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

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


def atomic_write_bytes(target: Union[str, os.PathLike], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Union[str, os.PathLike], text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def read_config(directory: Path) -> LocationEncoderConfig:
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise PretrainedNotFoundError(
            f"{directory} has no {CONFIG_NAME}; a geoloc_embed model directory holds {CONFIG_NAME} and "
            f"{WEIGHTS_NAME} as written by LocationEncoder.save_pretrained(dir)")
    try:
        return LocationEncoderConfig.from_json(path.read_text(encoding="utf-8"))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def describe_state_mismatch(state: "dict[str, torch.Tensor]", expected: "dict[str, torch.Tensor]",
                            limit: int = 5) -> str:
    """'' when ``state`` has exactly the keys and shapes of ``expected``, else what differs (for errors)."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape))
    parts = []
    if missing:
        parts.append(f"missing tensors {missing[:limit]}{' ...' if len(missing) > limit else ''}")
    if unexpected:
        parts.append(f"unexpected tensors {unexpected[:limit]}{' ...' if len(unexpected) > limit else ''}")
    if wrong_shape:
        parts.append("shape mismatch for " + ", ".join(
            f"{k} (file {tuple(state[k].shape)}, model {tuple(expected[k].shape)})" for k in wrong_shape[:limit]))
    return "; ".join(parts)


def load_weights_into(model: "LocationEncoder", weights_path: Path,
                      map_location: Union[str, torch.device] = "cpu") -> None:
    """Load a safetensors file into ``model`` strictly, with errors that name the file and the fix."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    device = str(map_location) if not isinstance(map_location, str) else map_location
    try:
        state = load_file(str(weights_path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(
            f"{weights_path} is not a readable safetensors file ({exc}); the file is corrupted or "
            "truncated: delete it and download or convert it again") from exc
    expected = model.state_dict()
    mismatch = describe_state_mismatch(state, expected)
    if mismatch:
        raise WeightsError(f"{weights_path} does not match its config.json: {mismatch}. "
                           "The weights and config.json must come from the same save_pretrained call.")
    for key, value in state.items():
        if value.dtype != expected[key].dtype and value.is_floating_point():
            state[key] = value.to(expected[key].dtype)
    model.load_state_dict(state, strict=True)


def load_directory(cls: "type[LocationEncoder]", directory: Path,
                   map_location: Union[str, torch.device] = "cpu") -> "LocationEncoder":
    """Build ``cls(config)`` from ``directory/config.json`` and load ``model.safetensors`` strictly."""
    config = read_config(directory)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise PretrainedNotFoundError(f"{directory} has {CONFIG_NAME} but no {WEIGHTS_NAME}")
    model = cls(config)
    load_weights_into(model, weights, map_location=map_location)
    if str(map_location) != "cpu":
        model.to(map_location)
    model.eval()
    return model
