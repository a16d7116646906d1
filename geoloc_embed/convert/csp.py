"""Convert CSP and TorchSpatial ``.pth.tar`` checkpoints (csp-spec.md sections 6 and 9).

Both codebases save ``torch.save({"epoch", "state_dict", "optimizer", "params"})`` where
``params`` is the whole argparse dict. The architecture is rebuilt from ``params`` (encoder type and
its hyperparameters) and from the state-dict shapes (number of layers, hidden width, embedding size,
number of classes), and the keys are mapped onto ``LocationEncoder``:

======================================================  =====================================
original key (either layout)                            ``LocationEncoder`` key
======================================================  =====================================
``[loc_enc.]spa_enc.ffn.layers.{i}.linear.*``           ``network.layers.{i}.linear.*``
``[loc_enc.]spa_enc.ffn.layers.{i}.layernorm.*``        ``network.layers.{i}.layernorm.*``
``[loc_enc.]spa_enc.position_encoder.*`` (rff, tile)    ``position_encoder.*``
``[loc_enc.]feats.0.*`` (``geo_net`` / FCNet)           ``network.input_layer.*``
``[loc_enc.]feats.{k}.w1|w2.*`` (k >= 2)                ``network.blocks.{k-2}.linear1|linear2.*``
``[loc_enc.]class_emb.weight``                          ``class_head.weight``
``user_emb.*``, ``img_dec.*``, ``loc_dec.*``            dropped (not part of the location encoder)
======================================================  =====================================

CSP files (``LocationImageEncoder``) hold the ``loc_enc.``-prefixed keys *and* unprefixed duplicates;
the prefixed ones are used and the duplicates are checked to be identical. TorchSpatial files are
unprefixed.

Family notes (csp-spec.md section 9):

* ``rbf`` cannot be converted: its anchors are indices into the training set
  (``params['rbf_anchor_pt_ids']``), which the file does not contain. Refused with ``WeightsError``.
* ``tile_ffn``: an upstream TorchSpatial defect leaves a grid of **one** cell
  (``embedding.weight`` is 1 x d), so every location gets the same embedding. The conversion keeps that
  behaviour (one cell covering the whole extent, indices clipped into range) and logs a warning.
* ``rff``: coordinates are min-max scaled with ``params['map_range']`` to [-1, 1] without clipping;
  ``dirvec``/``shift`` come from the state dict.
* ``wrap_ffn`` / ``geo_net_fft``: wrap features (lon/180, lat/90, world extent) + the CSP FFN.
* ``geo_net`` (geo_prior baseline): wrap features + geo_prior's FCNet (``feats.*`` keys; ReLU,
  Dropout(0.5) fixed in its ResLayers).
* ``NeRF``: always 16 levels, whatever ``params['frequency_num']`` says (TorchSpatial never forwards it).

``parse_model_file_name`` (``geoloc_embed.convert.csp_names``) decodes the hyperparameters encoded in the
original file names (the authors' ``make_model_file_param_args`` layout) so they can be cross-checked
against ``params``.
"""

import logging
import os
import re
from typing import Any, Mapping, Optional, Union

import torch
from torch import Tensor

from ..config import LocationEncoderConfig, network_config, position_encoder_config
from ..errors import ConfigError, WeightsError
from .csp_names import ENCODER_TYPES, UNSUPPORTED_ENCODER_TYPES, parse_model_file_name
from .unpickle import load_weights_only

__all__ = [
    "convert",
    "load_checkpoint",
    "convert_checkpoint",
    "parse_model_file_name",
    "ENCODER_TYPES",
    "UNSUPPORTED_ENCODER_TYPES",
]

logger = logging.getLogger(__name__)

#: Networks for encoder types that do not use the CSP FFN.
_FCNET_TYPES = ("geo_net", "wrap")

# --------------------------------------------------------------------------- loading
def load_checkpoint(path: Union[str, os.PathLike], *, source: Optional[str] = None) -> dict[str, Any]:
    """Load a CSP/TorchSpatial ``.pth.tar`` without executing pickled code (``load_weights_only``).

    Returns the checkpoint dict (with at least ``state_dict`` and ``params``); ``source`` names the file
    in errors (default: ``path``).

    Raises:
        WeightsError: unreadable/truncated file, disallowed pickled objects, or not a checkpoint of
            this format. The message names the file and the fix.
    """
    label = source or str(path)
    obj = load_weights_only(path, source=label)
    if not isinstance(obj, Mapping) or "state_dict" not in obj or "params" not in obj:
        kind = type(obj).__name__ if not isinstance(obj, Mapping) else f"dict with keys {sorted(map(str, obj))[:8]}"
        raise WeightsError(
            f"{label} is not a CSP/TorchSpatial checkpoint: expected a dict with 'state_dict' and 'params' "
            f"(as written by the authors' save_model), got a {kind}. For a geoloc_embed model directory use "
            "LocationEncoder.from_pretrained(dir); for SatCLIP/GeoCLIP files use their converters.")
    if not isinstance(obj["state_dict"], Mapping) or not isinstance(obj["params"], Mapping):
        raise WeightsError(f"{label}: 'state_dict' and 'params' must both be dicts")
    return dict(obj)


def convert(path: Union[str, os.PathLike], *, source: Optional[str] = None
            ) -> tuple[LocationEncoderConfig, dict[str, Tensor]]:
    """Convert a CSP/TorchSpatial ``.pth.tar`` file to ``(config, state_dict)`` for ``LocationEncoder``.

    ``source`` names the file in errors (default: ``path``; e.g. ``"model_dir.zip#<member>"``).
    """
    label = source or str(path)
    return convert_checkpoint(load_checkpoint(path, source=label), source=label)


# --------------------------------------------------------------------------- state dict
def _select_layout(state: Mapping[str, Tensor], source: str) -> dict[str, Tensor]:
    """Pick the ``loc_enc.``-prefixed keys when present (checking duplicates), else the unprefixed ones."""
    prefixed = {k[len("loc_enc."):]: v for k, v in state.items() if k.startswith("loc_enc.")}
    if not prefixed:
        return {k: v for k, v in state.items() if isinstance(v, Tensor)}
    for key, value in prefixed.items():
        twin = state.get(key)
        if isinstance(twin, Tensor) and (twin.shape != value.shape or not torch.equal(twin, value)):
            raise WeightsError(f"{source}: 'loc_enc.{key}' and its duplicate '{key}' differ; the checkpoint "
                               "is inconsistent (a partially edited file?)")
    return prefixed


_DROPPED_PREFIXES = ("user_emb.", "img_dec.", "loc_dec.", "cnn_model.", "img_enc.")


def _layer_indices(state: Mapping[str, Tensor], pattern: str) -> list[int]:
    regex = re.compile(pattern)
    found = {int(m.group(1)) for k in state for m in [regex.fullmatch(k)] if m}
    return sorted(found)


def _param(params: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in params and params[name] is not None:
            return params[name]
    return default


def _flag(params: Mapping[str, Any], name: str, default: bool, source: str) -> bool:
    """A boolean argparse flag: a bool, or the authors' "T"/"F" strings (never truthiness of a string)."""
    value = _param(params, name, default=default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("t", "true"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("f", "false"):
        return False
    raise WeightsError(f"{source}: params[{name!r}] = {value!r} is not a boolean (expected True/False or 'T'/'F')")


def convert_checkpoint(checkpoint: Mapping[str, Any], source: str = "<checkpoint>"
                       ) -> tuple[LocationEncoderConfig, dict[str, Tensor]]:
    """Convert an already loaded checkpoint dict (see ``load_checkpoint``)."""
    params = checkpoint["params"]
    enc_type = params.get("spa_enc_type")
    if enc_type in UNSUPPORTED_ENCODER_TYPES:
        raise WeightsError(f"{source}: {UNSUPPORTED_ENCODER_TYPES[enc_type]}. Pick a checkpoint of another "
                           f"encoder family (supported: {', '.join(sorted(set(ENCODER_TYPES.values())))}).")
    if enc_type not in ENCODER_TYPES:
        raise WeightsError(f"{source}: unknown params['spa_enc_type'] = {enc_type!r}; supported: "
                           f"{', '.join(sorted(ENCODER_TYPES))}")
    family = ENCODER_TYPES[enc_type]
    state = _select_layout(checkpoint["state_dict"], source)
    state = {k: v for k, v in state.items() if not k.startswith(_DROPPED_PREFIXES)}

    out: dict[str, Tensor] = {}
    net_fields: dict[str, Any] = {}
    num_classes = 0
    consumed: set[str] = set()

    if "class_emb.weight" in state:
        out["class_head.weight"] = state["class_emb.weight"]
        num_classes = int(state["class_emb.weight"].shape[0])
        consumed.add("class_emb.weight")
    if "class_emb.bias" in state:
        raise WeightsError(f"{source}: class_emb has a bias; CSP class heads are bias-free and this variant "
                           "is not supported")

    # geo_net is geo_prior's FCNet ("feats.*" keys); TorchSpatial's "wrap" may be either network, so the
    # keys decide for the wrap family.
    uses_fcnet = enc_type in _FCNET_TYPES and ("feats.0.weight" in state or not any(
        k.startswith("spa_enc.ffn.") for k in state))
    if uses_fcnet:
        in_dim, embed_dim = _map_fcnet(state, out, consumed, net_fields, source)
        network = "fcnet"
    else:
        in_dim, embed_dim = _map_ffn(state, out, consumed, net_fields, params, source)
        network = "csp-ffn"
    net_fields["embed_dim"] = embed_dim

    # position-encoder tensors (rff dirvec/shift, tile embedding)
    for key, value in state.items():
        if key.startswith("spa_enc.position_encoder."):
            out["position_encoder." + key[len("spa_enc.position_encoder."):]] = value
            consumed.add(key)

    leftover = sorted(set(state) - consumed)
    if leftover:
        raise WeightsError(f"{source}: unexpected tensors for a {enc_type!r} encoder: {leftover[:8]}; this "
                           "checkpoint variant is not supported by the CSP converter")

    pe_fields = _family_fields(family, enc_type, params, state, in_dim, source)
    try:
        config = LocationEncoderConfig(position_encoder=position_encoder_config(family, **pe_fields),
                                       network=network_config(network, **net_fields), num_classes=num_classes)
    except ConfigError as exc:  # re-raise naming the file
        raise WeightsError(f"{source}: cannot build a config from params ({exc})") from exc

    expected = config.position_encoder.feature_dim
    if expected != in_dim:
        raise WeightsError(
            f"{source}: the first layer takes {in_dim} features but a {family!r} encoder with these params "
            f"produces {expected} ({config.position_encoder}); params and weights disagree")
    if embed_dim != _param(params, "num_filts", default=embed_dim):
        logger.warning("%s: embedding size from the weights (%d) differs from params['num_filts'] (%s); "
                       "using the weights", source, embed_dim, params.get("num_filts"))
    return config, out


def _map_ffn(state: Mapping[str, Tensor], out: dict[str, Tensor], consumed: set[str],
             fields: dict[str, Any], params: Mapping[str, Any], source: str) -> tuple[int, int]:
    indices = _layer_indices(state, r"spa_enc\.ffn\.layers\.(\d+)\.linear\.weight")
    if not indices:
        raise WeightsError(f"{source}: no 'spa_enc.ffn.layers.*.linear.weight' tensors; not a CSP/TorchSpatial "
                           "location encoder with a feed-forward network")
    if indices != list(range(len(indices))):
        raise WeightsError(f"{source}: FFN layer indices are not contiguous: {indices}")
    weights = [state[f"spa_enc.ffn.layers.{i}.linear.weight"] for i in indices]
    for i in range(1, len(weights)):
        if weights[i].shape[1] != weights[i - 1].shape[0]:
            raise WeightsError(f"{source}: FFN layer {i} takes {weights[i].shape[1]} inputs but layer {i - 1} "
                               f"gives {weights[i - 1].shape[0]}")
    hidden = [int(w.shape[0]) for w in weights[:-1]]
    if len(set(hidden)) > 1:
        raise WeightsError(f"{source}: hidden layers of different widths {hidden} are not supported")
    has_ln = [f"spa_enc.ffn.layers.{i}.layernorm.weight" in state for i in indices[:-1]]
    if len(set(has_ln)) > 1:
        raise WeightsError(f"{source}: LayerNorm present on some hidden layers only")
    if f"spa_enc.ffn.layers.{indices[-1]}.layernorm.weight" in state:
        raise WeightsError(f"{source}: the last FFN layer has a LayerNorm, which CSP's network never has")
    for i in indices:
        for part in ("linear.weight", "linear.bias", "layernorm.weight", "layernorm.bias"):
            key = f"spa_enc.ffn.layers.{i}.{part}"
            if key in state:
                out[f"network.layers.{i}.{part}"] = state[key]
                consumed.add(key)
    fields.update(
        num_hidden_layers=len(indices) - 1,
        hidden_dim=hidden[0] if hidden else int(_param(params, "hidden_dim", default=512)),
        activation=str(_param(params, "spa_f_act", default="relu")).lower(),
        dropout=float(_param(params, "dropout", default=0.5)),
        use_layernorm=has_ln[0] if has_ln else _flag(params, "use_layn", True, source),
        skip_connection=_flag(params, "skip_connection", True, source),
    )
    return int(weights[0].shape[1]), int(weights[-1].shape[0])


def _map_fcnet(state: Mapping[str, Tensor], out: dict[str, Tensor], consumed: set[str],
               fields: dict[str, Any], source: str) -> tuple[int, int]:
    if "feats.0.weight" not in state:
        raise WeightsError(f"{source}: a geo_net (wrap + FCNet) checkpoint needs 'feats.0.weight'; not found")
    out["network.input_layer.weight"] = state["feats.0.weight"]
    out["network.input_layer.bias"] = state["feats.0.bias"]
    consumed.update({"feats.0.weight", "feats.0.bias"})
    blocks = _layer_indices(state, r"feats\.(\d+)\.w1\.weight")
    if blocks != list(range(2, 2 + len(blocks))):
        raise WeightsError(f"{source}: unexpected FCNet layout (residual blocks at feats.{blocks})")
    for n, k in enumerate(blocks):
        for ours, theirs in (("linear1", "w1"), ("linear2", "w2")):
            for part in ("weight", "bias"):
                key = f"feats.{k}.{theirs}.{part}"
                out[f"network.blocks.{n}.{ours}.{part}"] = state[key]
                consumed.add(key)
    # geo_prior's ResLayer hard-codes ReLU and nn.Dropout() (p = 0.5) whatever params say; the width
    # (feats.0's output) is the embedding size.
    fields.update(num_hidden_layers=len(blocks), activation="relu", dropout=0.5)
    return int(state["feats.0.weight"].shape[1]), int(state["feats.0.weight"].shape[0])


def _family_fields(family: str, enc_type: str, params: Mapping[str, Any], state: Mapping[str, Tensor],
                   in_dim: int, source: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if family in ("grid", "theory", "sphere-c", "sphere-c-plus", "sphere-m", "sphere-m-plus", "dfs"):
        fields.update(frequency_num=int(params["frequency_num"]), min_radius=float(params["min_radius"]),
                      max_radius=float(_param(params, "max_radius", default=360.0)))
        if _param(params, "freq_init", default="geometric") != "geometric":
            raise WeightsError(f"{source}: params['freq_init'] = {params['freq_init']!r} is not supported "
                               "(only 'geometric' scales)")
    elif family == "nerf":
        fields.update(nerf_levels=16)  # TorchSpatial never forwards frequency_num (csp-spec 9 item 10)
    elif family == "rff":
        dirvec = state.get("spa_enc.position_encoder.dirvec")
        if dirvec is None or dirvec.ndim != 2 or dirvec.shape[0] != 2:
            raise WeightsError(f"{source}: an rff checkpoint needs 'spa_enc.position_encoder.dirvec' of shape (2, D)")
        fields.update(frequency_num=int(dirvec.shape[1]),
                      map_range=tuple(float(v) for v in params["map_range"]),
                      rff_sigma=float(_param(params, "rbf_kernel_size", "rbf_kernal_size", default=1.0)))
    elif family == "wrap":
        if enc_type in _FCNET_TYPES or enc_type in ("geo_net_fft",):
            if _param(params, "loc_encode", default="encode_cos_sin") != "encode_cos_sin":
                raise WeightsError(f"{source}: params['loc_encode'] = {params['loc_encode']!r} is not supported "
                                   "(only 'encode_cos_sin')")
        if params.get("use_date_feats"):
            raise WeightsError(f"{source}: models with date features (use_date_feats=True) are not supported")
        # wrap ignores params['map_range'] and uses the world extent (csp-spec 9 item 12).
    elif family == "tile":
        weight = state.get("spa_enc.position_encoder.embedding.weight")
        if weight is None:
            raise WeightsError(f"{source}: a tile_ffn checkpoint needs 'spa_enc.position_encoder.embedding.weight'")
        map_range = tuple(float(v) for v in params["map_range"])
        cells = int(weight.shape[0])
        if cells == 1:
            logger.warning(
                "%s: TorchSpatial tile_ffn defect: the tile grid has a single cell, so every location gets "
                "the same embedding; the converted model reproduces this on purpose", source)
            # one tile covering the whole extent; points outside are clipped into it
            tile_size = float(max(map_range[1] - map_range[0], map_range[3] - map_range[2]))
        else:
            tile_size = float(_param(params, "tile_size", default=1.0))
        fields.update(map_range=map_range, tile_size=tile_size, tile_embed_dim=int(weight.shape[1]))
    return fields
