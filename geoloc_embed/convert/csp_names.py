"""CSP/TorchSpatial encoder-type names and the hyperparameters encoded in the authors' file names.

``ENCODER_TYPES`` maps ``params['spa_enc_type']`` (both codebases' spellings) to our families;
``parse_model_file_name`` decodes a ``make_model_file_param_args`` file name (csp-spec.md section 6).
"""

import os
import re
from pathlib import Path
from typing import Any, Union

__all__ = ["ENCODER_TYPES", "UNSUPPORTED_ENCODER_TYPES", "parse_model_file_name"]

#: ``params['spa_enc_type']`` (both the CSP/Sphere2Vec and the TorchSpatial spelling) -> our family.
ENCODER_TYPES: dict[str, str] = {
    "gridcell": "grid",
    "gridcellnorm": "grid",  # converts to radians after the PE: identical to gridcell (csp-spec 1.3)
    "Space2Vec-grid": "grid",
    "theory": "theory",
    "Space2Vec-theory": "theory",
    "sphere": "sphere-c",
    "Sphere2Vec-sphereC": "sphere-c",
    "spheregrid": "sphere-c-plus",
    "Sphere2Vec-sphereC+": "sphere-c-plus",
    "spheremixscale": "sphere-m",
    "Sphere2Vec-sphereM": "sphere-m",
    "spheregridmixscale": "sphere-m-plus",
    "Sphere2Vec-sphereM+": "sphere-m-plus",
    "dft": "dfs",
    "Sphere2Vec-dfs": "dfs",
    "rff": "rff",
    "xyz": "xyz",
    "NeRF": "nerf",
    "nerf": "nerf",
    "geo_net_fft": "wrap",
    "wrap_ffn": "wrap",
    "geo_net": "wrap",
    "wrap": "wrap",
    "tile_ffn": "tile",
}

#: Encoder types that exist upstream but cannot be rebuilt from a checkpoint, with the reason.
UNSUPPORTED_ENCODER_TYPES: dict[str, str] = {
    "rbf": ("rbf encoders cannot be rebuilt from the checkpoint: their anchors are indices into the "
            "training set (params['rbf_anchor_pt_ids']) and the training locations are not in the file"),
    "Siren(SH)": ("TorchSpatial's Siren(SH) checkpoints are not supported by this converter; use the SatCLIP "
                  "converter for spherical-harmonics + SIREN models"),
}

_ACTIVATION_NAMES = ("leakyrelu", "relu", "gelu", "sigmoid", "tanh")
_UNSUPER_LOSSES = ("l2regress", "imgcontlossnolocneg", "imgcontlosssimcse", "imgcontloss", "contsoftmaxsym",
                   "contsoftmax")


def _float(token: str) -> float:
    return float(token)


def parse_model_file_name(name: Union[str, os.PathLike]) -> dict[str, Any]:
    """Decode the hyperparameters that the authors' ``make_model_file_param_args`` put in a file name.

    Layout: ``model_<dataset>_<spa_enc_type>_[<cnn_model>_]<lr>_<frequency_num>_<min_radius>_[<max_radius>_]
    <num_hidden_layer>_<hidden_dim>[_BATCH<b>][_EMB<d>][_<rff sigma>|_<rbf anchors>_<rbf sigma>]
    [_DROPOUT<p>][_WDECAY<w>][_<act>[_UNSUPER-<loss>_<unsuper_lr>...|_<loss>_ratio<r>_<unsuper_lr>...]]``.
    Absent ``_BATCH``/``_EMB``/``_DROPOUT`` tags mean 1024 / 256 / 0.5. A TorchSpatial fixture prefix
    ``<encoder folder>__`` is ignored.

    Returns a dict with the keys it could decode (names as in ``params``).
    """
    base = Path(name).name
    if "__" in base:
        base = base.split("__", 1)[1]
    for suffix in (".pth.tar", ".log", ".tar", ".pth"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    if not base.startswith("model_"):
        raise ValueError(f"{name!r} is not a CSP/TorchSpatial model file name (must start with 'model_')")
    rest = base[len("model_"):]
    enc = None
    for candidate in sorted(set(ENCODER_TYPES) | set(UNSUPPORTED_ENCODER_TYPES), key=len, reverse=True):
        match = re.search(rf"(?:^|_){re.escape(candidate)}_", rest)
        if match:
            enc = candidate
            dataset = rest[: match.start()]
            tokens = rest[match.end():].split("_")
            break
    if enc is None:
        raise ValueError(f"no known encoder type in {name!r}")
    out: dict[str, Any] = {"dataset": dataset, "spa_enc_type": enc, "batch_size": 1024, "num_filts": 256,
                           "dropout": 0.5}
    i = 0
    if tokens and not re.fullmatch(r"[0-9.]+", tokens[0]):  # cnn model name, e.g. inception_v3
        j = 0
        while j < len(tokens) and not re.fullmatch(r"\d+\.\d+", tokens[j]):
            j += 1
        out["cnn_model"] = "_".join(tokens[:j])
        i = j
    out["lr"] = _float(tokens[i])
    out["frequency_num"] = int(tokens[i + 1])
    out["min_radius"] = _float(tokens[i + 2])
    i += 3
    if "." in tokens[i]:
        out["max_radius"] = _float(tokens[i])
        i += 1
    out["num_hidden_layer"] = int(tokens[i])
    out["hidden_dim"] = int(tokens[i + 1])
    i += 2
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("BATCH"):
            out["batch_size"] = int(tok[5:])
        elif tok.startswith("EMB"):
            out["num_filts"] = int(tok[3:])
        elif tok.startswith("DROPOUT"):
            out["dropout"] = _float(tok[7:])
        elif tok.startswith("WDECAY"):
            out["weight_decay"] = _float(tok[6:])
        elif enc == "rff" and re.fullmatch(r"\d+\.\d", tok) and "rbf_kernel_size" not in out:
            out["rbf_kernel_size"] = _float(tok)
        elif enc == "rbf" and re.fullmatch(r"\d+", tok) and "num_rbf_anchor_pts" not in out:
            out["num_rbf_anchor_pts"] = int(tok)
            out["rbf_kernel_size"] = _float(tokens[i + 1])
            i += 1
        elif tok in _ACTIVATION_NAMES:
            out["spa_f_act"] = tok
            _parse_loss_tag(tokens[i + 1:], out)
            break
        else:
            raise ValueError(f"cannot decode token {tok!r} in {name!r}")
        i += 1
    out.setdefault("spa_f_act", "relu")  # supervised names omit the default activation
    out.setdefault("unsuper_loss", "none")
    return out


def _parse_loss_tag(tokens: list[str], out: dict[str, Any]) -> None:
    if not tokens:
        return
    i = 0
    if tokens[0].startswith("UNSUPER-"):
        out["unsuper_loss"] = tokens[0][len("UNSUPER-"):]
        out["unsupervised_checkpoint"] = True
        i = 1
    else:
        out["unsuper_loss"] = tokens[0]
        out["unsupervised_checkpoint"] = False
        i = 1
        if i < len(tokens) and tokens[i].startswith("ratio"):
            out["train_sample_ratio"] = _float(tokens[i][5:])
            i += 1
    loss = out["unsuper_loss"]
    if i < len(tokens):
        out["unsuper_lr"] = _float(tokens[i])
        i += 1
    if loss in ("imgcontloss", "imgcontlosssimcse", "contsoftmax", "contsoftmaxsym") and i + 1 < len(tokens):
        out["rand_sample_weight"] = _float(tokens[i])
        out["num_neg_rand_loc"] = int(tokens[i + 1])
        i += 2
        if loss in ("imgcontlosssimcse", "contsoftmax", "contsoftmaxsym") and i < len(tokens):
            out["simcse_weight"] = _float(tokens[i])
            i += 1
            if "contsoftmax" in loss and i + 2 < len(tokens) and tokens[i].startswith("TMP"):
                out["unsuper_temp_inbatch"] = _float(tokens[i][3:])
                out["unsuper_temp_negloc"] = _float(tokens[i + 1])
                out["unsuper_temp_simcse"] = _float(tokens[i + 2])
