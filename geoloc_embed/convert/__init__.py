"""Converters from foreign checkpoint formats to ``(LocationEncoderConfig, state_dict)``.

Every converter module exposes ``convert(path) -> tuple[LocationEncoderConfig, dict[str, Tensor]]``:
the config rebuilds the architecture and the state dict loads into ``LocationEncoder(config)``
strictly. Converters build no model and write no file (``LocationEncoder.from_state_dict`` loads the
result; ``geoloc_embed.io`` writes model directories). They never execute pickled code: every pickled
file is read by ``geoloc_embed.convert.unpickle.load_weights_only`` (``torch.load(weights_only=True)``
with the package's one allow-list).

| converter  | module                          | input                                                    |
| ---------- | ------------------------------- | -------------------------------------------------------- |
| ``csp``    | ``geoloc_embed.convert.csp``    | CSP / TorchSpatial ``.pth.tar`` (``state_dict`` + ``params``) |
| ``geoclip``| ``geoloc_embed.convert.geoclip``| GeoCLIP ``location_encoder_weights.pth``                  |
| ``satclip``| ``geoloc_embed.convert.satclip``| SatCLIP Lightning ``.ckpt`` (location branch only)        |
"""

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

from ..errors import WeightsError
from .unpickle import SAFE_GLOBALS, load_weights_only

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

    from ..config import LocationEncoderConfig

__all__ = ["CONVERTERS", "SAFE_GLOBALS", "get_converter", "detect_converter", "convert", "load_weights_only"]

#: converter name -> module path (imported lazily).
CONVERTERS: dict[str, str] = {
    "csp": "geoloc_embed.convert.csp",
    "geoclip": "geoloc_embed.convert.geoclip",
    "satclip": "geoloc_embed.convert.satclip",
}

ConvertFn = Callable[..., "tuple[LocationEncoderConfig, dict[str, Tensor]]"]


def get_converter(name: str) -> ConvertFn:
    """The ``convert`` function of converter ``name`` (one of ``CONVERTERS``)."""
    try:
        module_name = CONVERTERS[name]
    except KeyError:
        raise WeightsError(f"unknown converter {name!r}; available: {', '.join(sorted(CONVERTERS))}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WeightsError(f"the {name!r} converter ({module_name}) is not available in this "
                           f"installation: {exc}") from exc
    return module.convert


def detect_converter(path: Union[str, os.PathLike]) -> str:
    """Guess the converter from a file name: ``.pth.tar`` -> csp, ``.ckpt`` -> satclip, ``.pth`` -> geoclip."""
    name = Path(path).name.lower()
    if name.endswith(".pth.tar") or name.endswith(".tar"):
        return "csp"
    if name.endswith(".ckpt"):
        return "satclip"
    if name.endswith(".pth") or name.endswith(".pt"):
        return "geoclip"
    raise WeightsError(
        f"cannot tell the checkpoint format of {path}: expected a CSP/TorchSpatial '.pth.tar', a SatCLIP "
        "'.ckpt' or a GeoCLIP '.pth' file; pass converter='csp'|'satclip'|'geoclip' explicitly")


def convert(path: Union[str, os.PathLike], converter: Optional[str] = None, *, source: Optional[str] = None
            ) -> "tuple[LocationEncoderConfig, dict[str, Tensor]]":
    """Convert a foreign checkpoint; ``converter`` defaults to ``detect_converter(path)``.

    ``source`` names the file in errors (default: ``path``), e.g. ``"model_dir.zip#<member>"`` for a
    member extracted to a temporary file.
    """
    name = converter or detect_converter(path)
    return get_converter(name)(path, source=source)
