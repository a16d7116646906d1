"""Converters from foreign checkpoint formats to ``(LocationEncoderConfig, state_dict)``.

Every converter module exposes ``convert(path) -> tuple[LocationEncoderConfig, dict[str, Tensor]]``:
the config rebuilds the architecture and the state dict loads into ``LocationEncoder(config)``
strictly. Converters never execute pickled code (``torch.load(weights_only=True)`` with explicit,
scoped allow-lists).

| converter  | module                          | input                                                    |
| ---------- | ------------------------------- | -------------------------------------------------------- |
| ``csp``    | ``geoloc_embed.convert.csp``    | CSP / TorchSpatial ``.pth.tar`` (``state_dict`` + ``params``) |
| ``geoclip``| ``geoloc_embed.convert.geoclip``| GeoCLIP ``location_encoder_weights.pth``                  |
| ``satclip``| ``geoloc_embed.convert.satclip``| SatCLIP Lightning ``.ckpt`` (location branch only)        |
"""

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from ..errors import WeightsError
from ..io import describe_state_mismatch

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

    from ..config import LocationEncoderConfig

__all__ = ["CONVERTERS", "get_converter", "detect_converter", "convert", "convert_to_directory",
           "build_model"]

#: converter name -> module path (imported lazily).
CONVERTERS: dict[str, str] = {
    "csp": "geoloc_embed.convert.csp",
    "geoclip": "geoloc_embed.convert.geoclip",
    "satclip": "geoloc_embed.convert.satclip",
}

ConvertFn = Callable[[Union[str, os.PathLike]], "tuple[LocationEncoderConfig, dict[str, Tensor]]"]


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
    return module.convert  # type: ignore[no-any-return]


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


def convert(path: Union[str, os.PathLike], converter: Optional[str] = None
            ) -> "tuple[LocationEncoderConfig, dict[str, Tensor]]":
    """Convert a foreign checkpoint; ``converter`` defaults to ``detect_converter(path)``."""
    return get_converter(converter or detect_converter(path))(path)


def build_model(config: "LocationEncoderConfig", state: "dict[str, Tensor]", source: Any = "<converted>",
                cls: Any = None) -> Any:
    """``cls(config)`` with ``state`` loaded strictly, in eval mode (errors name ``source``)."""
    if cls is None:
        from ..encoders.model import LocationEncoder as cls  # noqa: N813
    model = cls(config)
    expected = model.state_dict()
    mismatch = describe_state_mismatch(state, expected, limit=6)
    if mismatch:
        raise WeightsError(f"{source}: converted weights do not fit the rebuilt architecture "
                           f"({config.position_encoder} + {config.network}): {mismatch}. "
                           "This is a converter bug or an unsupported variant; please report it.")
    model.load_state_dict({k: v.to(expected[k].dtype) if v.is_floating_point() else v
                           for k, v in state.items()}, strict=True)
    model.eval()
    return model


def convert_to_directory(path: Union[str, os.PathLike], out_dir: Union[str, os.PathLike],
                         converter: Optional[str] = None, spec: Any = None) -> Path:
    """Convert ``path`` and write ``config.json`` + ``model.safetensors`` + ``README.md`` into ``out_dir``.

    Every file is written atomically. Returns ``out_dir``.
    """
    config, state = convert(path, converter)
    model = build_model(config, state, source=path)
    model.pretrained_spec = spec
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    return out
