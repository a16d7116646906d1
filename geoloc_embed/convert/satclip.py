"""Convert the location branch of a SatCLIP Lightning checkpoint (``satclip-*.ckpt``, MIT).

A checkpoint is a pickled dict with ``state_dict`` and ``hyper_parameters`` (the arguments of
``SatCLIPLightningModule``, microsoft/satclip ``satclip/main.py``). The Lightning module holds
``model = SatCLIP(...)``, whose location encoder is ``model.location = LocationEncoder(posenc,
nnet)``; the same ``nnet`` is also registered as ``model.nnet``, so its tensors appear twice.
Only the location branch is taken::

    model.location.nnet.layers.{i}.weight|bias  -> network.layers.{i}.weight|bias
    model.location.nnet.last_layer.weight|bias  -> network.last_layer.weight|bias

(the spherical harmonics have no state; the vision tower and ``logit_scale`` are ignored).
Hyperparameters used: ``le_type`` (must be "sphericalharmonics" -- SatCLIP's name for the
*position encoding*), ``pe_type`` (must be "siren" -- the *network*), ``harmonics_calculation``
(must be "analytic", the table all released models use; "closed-form" has another sign and m = 0
convention), ``legendre_polys`` -> ``sh_degree``, ``capacity`` -> ``hidden_dim``,
``num_hidden_layers``, ``embed_dim``. SatCLIP's ``get_neural_network`` builds ``SirenNet`` with its
defaults: w0 = 1, w0_initial = 30, dropout on (p = 0.5).

The file is read with ``geoloc_embed.convert.unpickle.load_weights_only`` (``torch.load(weights_only=True)``
with the package's one allow-list, which has the harmless value types Lightning checkpoints hold); no
pickled code runs. The tensors keep the checkpoint's dtype (float64 for SatCLIP).
"""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

from torch import Tensor

from ..config import LocationEncoderConfig, SirenConfig, SphericalHarmonicsConfig
from ..errors import ConfigError, WeightsError
from .unpickle import load_weights_only

__all__ = ["LOCATION_PREFIXES", "convert", "convert_checkpoint"]

#: Key prefixes of the location network, in order of preference.
LOCATION_PREFIXES = ("model.location.nnet.", "model.nnet.")

_NET_KEY = re.compile(r"^(layers\.\d+|last_layer)\.(weight|bias)$")


def _hparam(hparams: Mapping[str, Any], name: str, source: str) -> Any:
    try:
        return hparams[name]
    except KeyError:
        raise WeightsError(f"{source}: SatCLIP hyper_parameters lack {name!r} "
                           f"(have {', '.join(sorted(map(str, hparams)))})") from None


def convert_checkpoint(checkpoint: Mapping[str, Any], source: str = "<checkpoint>"
                       ) -> "tuple[LocationEncoderConfig, dict[str, Tensor]]":
    """Convert an already-loaded SatCLIP checkpoint dict (``state_dict`` + ``hyper_parameters``)."""
    if not isinstance(checkpoint, Mapping) or "state_dict" not in checkpoint:
        raise WeightsError(f"{source}: not a Lightning checkpoint (expected a dict with 'state_dict' and "
                           "'hyper_parameters')")
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(hparams, Mapping):
        raise WeightsError(f"{source}: the checkpoint has no 'hyper_parameters' dict, so the SatCLIP "
                           "architecture cannot be rebuilt")
    le_type = _hparam(hparams, "le_type", source)
    pe_type = _hparam(hparams, "pe_type", source)
    calculation = hparams.get("harmonics_calculation", "analytic")
    if le_type != "sphericalharmonics" or pe_type != "siren":
        raise WeightsError(f"{source}: only SatCLIP's spherical harmonics + SIREN location encoder is "
                           f"supported (le_type='sphericalharmonics', pe_type='siren'), got le_type={le_type!r}, "
                           f"pe_type={pe_type!r}")
    if calculation != "analytic":
        raise WeightsError(f"{source}: harmonics_calculation={calculation!r} is not supported; geoloc_embed "
                           "implements SatCLIP's 'analytic' spherical harmonics (used by every released model)")

    state = checkpoint["state_dict"]
    net: dict[str, Tensor] = {}
    for prefix in LOCATION_PREFIXES:
        net = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if net:
            break
    if not net:
        raise WeightsError(f"{source}: no location-encoder tensors (keys starting with "
                           f"{' or '.join(LOCATION_PREFIXES)}) in the checkpoint's state_dict")
    stray = sorted(k for k in state if k.startswith("model.location.") and not k.startswith("model.location.nnet."))
    if stray:
        raise WeightsError(f"{source}: unexpected location-encoder tensors {stray[:4]}; only a stateless "
                           "positional encoding is supported")
    bad = sorted(k for k in net if not _NET_KEY.match(k) or not isinstance(net[k], Tensor))
    if bad:
        raise WeightsError(f"{source}: unexpected SIREN keys {bad[:4]} (expected layers.{{i}}.weight|bias and "
                           "last_layer.weight|bias)")

    legendre_polys = int(_hparam(hparams, "legendre_polys", source))
    capacity = int(_hparam(hparams, "capacity", source))
    embed_dim = int(_hparam(hparams, "embed_dim", source))
    num_hidden_layers = int(_hparam(hparams, "num_hidden_layers", source))
    layer_ids = sorted({int(k.split(".")[1]) for k in net if k.startswith("layers.")})
    if layer_ids != list(range(num_hidden_layers)):
        raise WeightsError(f"{source}: hyper_parameters say num_hidden_layers={num_hidden_layers} but the "
                           f"checkpoint has SIREN layers {layer_ids}")
    expected_shapes = {"last_layer.weight": (embed_dim, capacity), "last_layer.bias": (embed_dim,)}
    for i in range(num_hidden_layers):
        expected_shapes[f"layers.{i}.weight"] = (capacity, legendre_polys ** 2 if i == 0 else capacity)
        expected_shapes[f"layers.{i}.bias"] = (capacity,)
    if set(net) != set(expected_shapes):
        raise WeightsError(f"{source}: SIREN tensors {sorted(net)} do not match the expected "
                           f"{sorted(expected_shapes)}")
    for key, shape in expected_shapes.items():
        if tuple(net[key].shape) != shape:
            raise WeightsError(f"{source}: {key} has shape {tuple(net[key].shape)}, expected {shape} from "
                               f"hyper_parameters (legendre_polys={legendre_polys}, capacity={capacity}, "
                               f"embed_dim={embed_dim})")

    try:
        # SatCLIP's SirenNet: w0 = 1, w0_initial = 30, dropout=True (p = 0.5), as in satclip/location_encoder.py
        config = LocationEncoderConfig(
            position_encoder=SphericalHarmonicsConfig(sh_degree=legendre_polys),
            network=SirenConfig(hidden_dim=capacity, num_hidden_layers=num_hidden_layers, embed_dim=embed_dim,
                                siren_w0=1.0, siren_w0_initial=30.0, dropout=0.5),
        )
    except ConfigError as exc:
        raise WeightsError(f"{source}: cannot build a config from hyper_parameters ({exc})") from exc
    return config, {f"network.{k}": v.detach().clone() for k, v in net.items()}


def convert(path: Union[str, "os.PathLike[str]"], *, source: Optional[str] = None
            ) -> "tuple[LocationEncoderConfig, dict[str, Tensor]]":
    """Read a SatCLIP ``.ckpt`` (weights only) and convert its location encoder.

    Returns ``(config, state_dict)``; ``LocationEncoder(config).load_state_dict(state_dict)`` works
    strictly. The model takes canonical (lon, lat) degrees, as SatCLIP does. ``source`` names the file
    in errors (default: ``path``).
    """
    path = Path(path)
    label = source or str(path)
    if not path.is_file():
        raise WeightsError(f"SatCLIP checkpoint not found at {label}; download e.g. satclip-vit16-l40.ckpt from "
                           "the Hugging Face repo microsoft/SatCLIP-ViT16-L40 and pass its path")
    return convert_checkpoint(load_weights_only(path, source=label), source=label)
