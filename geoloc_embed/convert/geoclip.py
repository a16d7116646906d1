"""Convert GeoCLIP's location encoder (``location_encoder_weights.pth`` from the MIT ``geoclip`` wheel).

The file is a plain state dict (27 float32 tensors, 9,449,472 values) of GeoCLIP's
``LocationEncoder``: for each branch i = 0, 1, 2 (sigma = 2**0, 2**4, 2**8)::

    LocEnc{i}.capsule.0.b          (256, 2)      -> position_encoder.branches.{i}.b
    LocEnc{i}.capsule.1.weight|bias (1024, 512)  -> network.branches.{i}.hidden.0.weight|bias
    LocEnc{i}.capsule.3.weight|bias (1024, 1024) -> network.branches.{i}.hidden.2.weight|bias
    LocEnc{i}.capsule.5.weight|bias (1024, 1024) -> network.branches.{i}.hidden.4.weight|bias
    LocEnc{i}.head.0.weight|bias    (512, 1024)  -> network.branches.{i}.output.weight|bias

(capsule.0 is the Gaussian encoding, capsule.2/4/6 are ReLUs.) The architecture is read off
the tensors (branch count, feature count, widths, depth) and checked; sigmas are inferred from
the ``b`` matrices (GeoCLIP's 2**0, 2**4, 2**8 when they match within sampling error).

The file is read with ``geoloc_embed.convert.unpickle.load_weights_only``: no pickled code runs, and no
``import geoclip`` happens (that would import ``transformers``).
"""

import math
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Optional, Union

import torch
from torch import Tensor

from ..config import EqualEarthRFFConfig, LocationEncoderConfig, MLPConfig
from ..errors import ConfigError, WeightsError
from .unpickle import load_weights_only

__all__ = ["GEOCLIP_SIGMAS", "WEIGHTS_RELPATH", "convert", "convert_state_dict", "find_geoclip_weights"]

#: GeoCLIP's branch scales.
GEOCLIP_SIGMAS = (2.0 ** 0, 2.0 ** 4, 2.0 ** 8)
#: Location of the weights inside the installed ``geoclip`` distribution.
WEIGHTS_RELPATH = "geoclip/model/weights/location_encoder_weights.pth"

_KEY = re.compile(r"^LocEnc(\d+)\.(capsule\.(\d+)|head\.0)\.(b|weight|bias)$")
# capsule Linear index -> our MLP's hidden Sequential index (Linear, ReLU, Linear, ReLU, ...).
_HIDDEN_INDEX = {1: 0, 3: 2, 5: 4}


def find_geoclip_weights() -> Path | None:
    """Path of ``location_encoder_weights.pth`` in an installed ``geoclip`` distribution, or None.

    Uses ``importlib.metadata`` only: ``geoclip`` itself is not imported.
    """
    try:
        dist = metadata.distribution("geoclip")
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.as_posix().endswith(WEIGHTS_RELPATH):
            path = Path(str(dist.locate_file(file)))
            return path if path.is_file() else None
    path = Path(str(dist.locate_file(WEIGHTS_RELPATH)))
    return path if path.is_file() else None


def _infer_sigma(b: Tensor) -> float:
    """The branch scale: GeoCLIP's 2**k nearest to the sample std when within 10 %, else the std itself."""
    std = float(b.to(torch.float64).std())
    nearest = min(GEOCLIP_SIGMAS, key=lambda s: abs(math.log(s) - math.log(max(std, 1e-12))))
    return nearest if abs(std / nearest - 1.0) < 0.1 else std


def convert_state_dict(state: "dict[str, Tensor]", source: str = "<state dict>"
                       ) -> "tuple[LocationEncoderConfig, dict[str, Tensor]]":
    """Map a GeoCLIP ``LocationEncoder`` state dict to ``(config, state_dict)`` for ``LocationEncoder``."""
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{source}: expected a GeoCLIP location-encoder state dict, got {type(state).__name__}")
    out: dict[str, Tensor] = {}
    branches: dict[int, dict[str, Tensor]] = {}
    for key, value in state.items():
        match = _KEY.match(key)
        if match is None or not isinstance(value, Tensor):
            raise WeightsError(f"{source}: unexpected entry {key!r}; this does not look like GeoCLIP's "
                               "location_encoder_weights.pth (keys LocEnc{i}.capsule.{j}.* / LocEnc{i}.head.0.*)")
        branch, _, capsule_index, leaf = match.groups()
        i = int(branch)
        branches.setdefault(i, {})[key] = value
        if capsule_index == "0" and leaf == "b":
            out[f"position_encoder.branches.{i}.b"] = value
        elif capsule_index is None:
            out[f"network.branches.{i}.output.{leaf}"] = value
        elif capsule_index is not None and int(capsule_index) in _HIDDEN_INDEX and leaf != "b":
            out[f"network.branches.{i}.hidden.{_HIDDEN_INDEX[int(capsule_index)]}.{leaf}"] = value
        else:
            raise WeightsError(f"{source}: unexpected GeoCLIP key {key!r}")

    num_branches = len(branches)
    if sorted(branches) != list(range(num_branches)):
        raise WeightsError(f"{source}: GeoCLIP branches must be numbered 0..B-1, got {sorted(branches)}")
    try:
        b0 = state["LocEnc0.capsule.0.b"]
        w_in = state["LocEnc0.capsule.1.weight"]
        w_out = state["LocEnc0.head.0.weight"]
    except KeyError as exc:
        raise WeightsError(f"{source}: GeoCLIP state dict lacks {exc.args[0]!r}") from None
    features = b0.shape[0]
    hidden_dim = w_in.shape[0]
    embed_dim = w_out.shape[0]
    num_hidden = sum(1 for k in branches[0] if k.endswith(".weight")) - 1
    if b0.ndim != 2 or b0.shape[1] != 2 or w_in.shape[1] != 2 * features:
        raise WeightsError(f"{source}: inconsistent GeoCLIP shapes: b {tuple(b0.shape)}, first linear "
                           f"{tuple(w_in.shape)} (expected (F, 2) and (H, 2F))")
    expected_keys = 1 + 2 * (num_hidden + 1)
    for i, entries in branches.items():
        if len(entries) != expected_keys:
            raise WeightsError(f"{source}: GeoCLIP branch {i} has {len(entries)} tensors, expected {expected_keys}")
    sigmas = tuple(_infer_sigma(state[f"LocEnc{i}.capsule.0.b"]) for i in range(num_branches))
    try:
        config = LocationEncoderConfig(
            position_encoder=EqualEarthRFFConfig(rff_sigmas=sigmas, rff_features=int(features)),
            network=MLPConfig(hidden_dim=int(hidden_dim), num_hidden_layers=num_hidden, activation="relu",
                              dropout=0.0, embed_dim=int(embed_dim)),
        )
    except ConfigError as exc:
        raise WeightsError(f"{source}: cannot build a config from the weights' shapes ({exc})") from exc
    return config, {k: v.detach().clone() for k, v in out.items()}


def convert(path: Union[str, "os.PathLike[str]"], *, source: Optional[str] = None
            ) -> "tuple[LocationEncoderConfig, dict[str, Tensor]]":
    """Read GeoCLIP's ``location_encoder_weights.pth`` (weights only) and convert it.

    Returns ``(config, state_dict)``; ``LocationEncoder(config).load_state_dict(state_dict)`` works
    strictly. The model takes canonical (lon, lat) degrees (GeoCLIP's (lat, lon) swap is internal).
    ``source`` names the file in errors (default: ``path``).
    """
    path = Path(path)
    label = source or str(path)
    if not path.is_file():
        raise WeightsError(f"GeoCLIP weights not found at {label}; install the wheel (`pip install geoclip`) "
                           "or pass the path of location_encoder_weights.pth")
    return convert_state_dict(load_weights_only(path, source=label), source=label)
