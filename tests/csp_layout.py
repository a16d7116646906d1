"""Write checkpoints in the original CSP / TorchSpatial ``.pth.tar`` layout (csp-spec.md section 6).

Both codebases save ``torch.save({"epoch", "state_dict", "optimizer", "params"})``:

* ``params`` is the whole argparse dict plus derived keys (``num_classes``, ``num_users``,
  ``model_file_name``, ``device`` ...). The templates below have the keys of the real files; the CSP
  code spells ``rbf_kernal_size``, TorchSpatial ``rbf_kernel_size``.
* ``state_dict``: TorchSpatial's ``LocationEncoder`` is unprefixed (``spa_enc.ffn.layers.{i}.layernorm.*``
  before ``.linear.*``, then ``class_emb.weight``, ``user_emb.weight``; rff/tile add
  ``spa_enc.position_encoder.*`` first). CSP's ``LocationImageEncoder`` holds the ``loc_enc.``-prefixed
  keys, the unprefixed duplicates (the same tensors, registered twice) and ``img_dec.*``.
* ``optimizer``: an Adam ``state_dict`` (state only for parameters that received gradients).
* numpy scalars inside ``params`` (rbf's ``rbf_anchor_pt_ids``) are pickled under numpy 1.x's name
  ``numpy.core.multiarray.scalar``, and storages carry the training GPU (``params['device']``) as their
  location, as in the real files.

Weights are seeded random numbers (numpy's legacy ``RandomState``, whose streams never change), never
copied from a real file. ``FIXTURE_SET`` is the project's own fixture set, written into
``tests/fixtures/checkpoints`` by ``tests/fixtures/regenerate.py``; tests also call
``write_checkpoint`` to craft full-size files in ``tmp_path``. Nothing here imports ``geoloc_embed``.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["OWN_FIXTURES", "FixtureFile", "FIXTURE_SET", "torchspatial_params", "csp_params",
           "build_checkpoint", "save_checkpoint", "write_checkpoint", "fixture_file", "generate"]

#: Where the project's own fixture checkpoints and their expected outputs live (committed).
OWN_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checkpoints"

#: TorchSpatial's argparse dict (``main/train.py`` of the supervised geo-prior runs), as in its files.
_TORCHSPATIAL_PARAMS: dict[str, Any] = {
    "save_results": True, "unsuper_dataset": "birdsnap", "unsuper_meta_type": "birdsnap", "dataset": "fmow",
    "meta_type": "", "eval_split": "val", "load_val_op": True, "cnn_model": "inception_v3",
    "load_cnn_predictions": False, "load_cnn_features": False, "load_cnn_features_train": False,
    "load_img": False, "inat2018_resolution": "standard", "cnn_pred_type": "full", "device": "cuda:1",
    "model_dir": "", "num_epochs": 0, "num_epochs_unsuper": 30, "spa_enc_type": "", "frequency_num": 64,
    "max_radius": 1.0, "min_radius": 0.0005, "num_hidden_layer": 1, "hidden_dim": 512, "num_rbf_anchor_pts": 200,
    "rbf_kernel_size": 1.0, "loc_encode": "encode_cos_sin", "num_filts": 256, "freq_init": "geometric",
    "spa_f_act": "relu", "map_range": [-162, -59, 20, 56], "use_layn": True, "skip_connection": True,
    "spa_enc_use_postmat": True, "use_date_feats": False, "date_encode": "encode_cos_sin",
    "train_loss": "full_loss", "neg_rand_type": "spherical", "train_sample_ratio": 1.0,
    "train_sample_method": "stratified-fix", "unsuper_loss": "none", "num_neg_rand_loc": 1,
    "rand_sample_weight": 1.0, "simcse_weight": 0.0, "unsuper_lr": 0.1, "do_unsuper_train": False,
    "load_unsuper_model": False, "unsuper_temp_inbatch": 1, "unsuper_temp_negloc": 1, "unsuper_temp_simcse": 1,
    "unsuper_eval_frequency": 10, "lr": 0.005, "lr_decay": 0.98, "weight_decay": 0.0, "dropout": 0.5,
    "batch_size": 1024, "log_frequency": 50, "max_num_exs_per_class": 100, "balanced_train_loader": True,
    "eval_frequency": 100, "unsuper_save_frequency": 5, "load_super_model": True, "do_super_train": True,
    "do_epoch_save": False, "num_classes": 62, "rbf_anchor_pt_ids": None, "unsuper_model_file_name": None,
    "model_file_name": "", "log_file_name": "", "op_dir": "", "num_users": 1, "num_loc_feats": 2, "num_feats": 2,
}

#: CSP's argparse dict (``main/trainer.py``) for a pre-training run, as in the released files.
_CSP_PARAMS: dict[str, Any] = {
    "unsuper_dataset": "inat_2018", "unsuper_meta_type": "ebird_meta", "dataset": "inat_2018", "meta_type": "",
    "eval_split": "val", "load_val_op": True, "cnn_model": "inception_v3", "load_cnn_predictions": False,
    "load_cnn_features": True, "load_cnn_features_train": True, "load_img": False,
    "inat2018_resolution": "pretrain", "cnn_pred_type": "full", "device": "cuda:0", "model_dir": "",
    "num_epochs": 200, "num_epochs_unsuper": 30, "spa_enc_type": "gridcell", "frequency_num": 32,
    "max_radius": 360.0, "min_radius": 0.1, "num_hidden_layer": 1, "hidden_dim": 512, "num_rbf_anchor_pts": 200,
    "rbf_kernal_size": 1.0, "loc_encode": "encode_cos_sin", "num_filts": 256, "freq_init": "geometric",
    "spa_f_act": "leakyrelu", "map_range": [-180, 180, -90, 90], "use_layn": True, "skip_connection": True,
    "spa_enc_use_postmat": True, "use_date_feats": False, "date_encode": "encode_cos_sin",
    "train_loss": "full_loss", "neg_rand_type": "sphericalold", "train_sample_ratio": 0.05,
    "train_sample_method": "stratified-fix", "unsuper_loss": "contsoftmax", "num_neg_rand_loc": 1,
    "rand_sample_weight": 1.0, "simcse_weight": 1.0, "unsuper_lr": 0.0005, "do_unsuper_train": True,
    "load_unsuper_model": False, "unsuper_temp_inbatch": 20.0, "unsuper_temp_negloc": 1.0,
    "unsuper_temp_simcse": 1.0, "unsuper_eval_frequency": 10, "lr": 0.001, "lr_decay": 0.98, "weight_decay": 0.0,
    "dropout": 0.5, "batch_size": 1024, "log_frequency": 50, "max_num_exs_per_class": 100,
    "balanced_train_loader": True, "eval_frequency": 5, "unsuper_save_frequency": 5, "load_super_model": False,
    "do_super_train": True, "do_epoch_save": False, "num_classes": 10, "rbf_anchor_pt_ids": None,
    "unsuper_model_file_name": "", "model_file_name": "", "log_file_name": "", "op_dir": "", "num_users": 5,
    "train_sample_idx_file": "", "num_loc_feats": 2, "num_feats": 2, "cnn_feat_dim": 2048,
}


def _stem(file_name: str) -> str:
    return file_name.split("__", 1)[-1].removesuffix(".pth.tar")


def torchspatial_params(file_name: str, omit: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    """TorchSpatial ``params`` for ``<encoder folder>__<original name>``, with ``changes`` applied.

    ``omit``: template keys that this file's run did not have (the NeRF files lack ``save_results``).
    """
    folder, stem = file_name.split("__", 1)[0], _stem(file_name)
    params = {k: v for k, v in {**_TORCHSPATIAL_PARAMS, **changes}.items() if k not in omit}
    params.update(model_dir=f"../models/{folder}/", model_file_name=f"../models/{folder}/{stem}.pth.tar",
                  log_file_name=f"../models/{folder}/{stem}.log",
                  op_dir=f"image/ims_{params['dataset']}_{params['spa_enc_type']}/")
    return params


def csp_params(file_name: str, params_name: str | None = None, **changes: Any) -> dict[str, Any]:
    """CSP pre-training ``params`` for ``file_name`` (``model_<dataset>_..._UNSUPER-<loss>_...``).

    ``params_name`` is the name the training run gave the file when it differs from the release name
    (the released fMoW file lacks the ``inception_v3_`` tag that its params' copy carries).
    """
    params = {**_CSP_PARAMS, **changes}
    directory = f"../model_dir/models_{params['dataset']}/"
    stem = _stem(params_name or file_name)
    finetuned = stem.replace("_UNSUPER-", "_", 1).replace(
        f"_{params['unsuper_loss']}_", f"_{params['unsuper_loss']}_ratio{params['train_sample_ratio']:.3f}_", 1)
    params.update(model_dir=directory, unsuper_model_file_name=f"{directory}{stem}.pth.tar",
                  model_file_name=f"{directory}{finetuned}.pth.tar", log_file_name=f"{directory}{finetuned}.log",
                  op_dir=f"image/ims_{params['dataset']}_{params['spa_enc_type']}/",
                  train_sample_idx_file=(f"../geo_prior_data_csp/data/{params['dataset']}//sample_idx//"
                                         f"train_sample_ratio{params['train_sample_ratio']:.3f}.npy"))
    return params


# --------------------------------------------------------------------------- state dict
def _feature_dim(params: Mapping[str, Any], tile_embed_dim: int) -> int:
    """Width of the position encoding for ``params['spa_enc_type']`` (csp-spec 1.3 and 9)."""
    s = int(params["frequency_num"])
    per_scale = {"gridcell": 4, "Space2Vec-grid": 4, "theory": 6, "Space2Vec-theory": 6, "sphere": 3,
                 "Sphere2Vec-sphereC": 3, "spheregrid": 6, "Sphere2Vec-sphereC+": 6, "spheremixscale": 5,
                 "Sphere2Vec-sphereM": 5, "rff": 1}
    fixed = {"xyz": 3, "NeRF": 96, "wrap_ffn": 4, "geo_net_fft": 4, "tile_ffn": tile_embed_dim,
             "rbf": int(params["num_rbf_anchor_pts"])}
    enc = params["spa_enc_type"]
    return per_scale[enc] * s if enc in per_scale else fixed[enc]


def _uniform(rng: np.random.RandomState, shape: tuple[int, ...], bound: float) -> torch.Tensor:
    return torch.from_numpy(rng.uniform(-bound, bound, size=shape).astype(np.float32))


def _linear(rng: np.random.RandomState, out_dim: int, in_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Xavier-uniform weight (the authors' init) and PyTorch's default bias range."""
    return (_uniform(rng, (out_dim, in_dim), math.sqrt(6.0 / (in_dim + out_dim))),
            _uniform(rng, (out_dim,), 1.0 / math.sqrt(in_dim)))


def _location_encoder_state(params: Mapping[str, Any], rng: np.random.RandomState,
                            tile_embed_dim: int) -> dict[str, torch.Tensor]:
    """TorchSpatial/CSP ``LocationEncoder`` tensors in module registration order (unprefixed)."""
    state: dict[str, torch.Tensor] = {}
    enc = params["spa_enc_type"]
    if enc == "rff":  # fixed random Fourier directions and phases, stored in the state dict
        sigma = float(params["rbf_kernel_size"])
        state["spa_enc.position_encoder.dirvec"] = torch.from_numpy(
            (sigma * rng.standard_normal((2, int(params["frequency_num"])))).astype(np.float32))
        state["spa_enc.position_encoder.shift"] = torch.from_numpy(
            rng.uniform(0.0, 2 * math.pi, size=int(params["frequency_num"])).astype(np.float32))
    elif enc == "tile_ffn":  # TorchSpatial's defect: a one-cell table (csp-spec 9 item 13)
        state["spa_enc.position_encoder.embedding.weight"] = torch.from_numpy(
            rng.standard_normal((1, tile_embed_dim)).astype(np.float32))
    width = _feature_dim(params, tile_embed_dim)
    hidden, layers = int(params["hidden_dim"]), int(params["num_hidden_layer"])
    for i in range(layers + 1):
        out_dim = hidden if i < layers else int(params["num_filts"])
        prefix = f"spa_enc.ffn.layers.{i}."
        if i < layers:  # hidden layers carry a LayerNorm, registered before the Linear
            state[prefix + "layernorm.weight"] = 1.0 + _uniform(rng, (out_dim,), 0.2)
            state[prefix + "layernorm.bias"] = _uniform(rng, (out_dim,), 0.1)
        state[prefix + "linear.weight"], state[prefix + "linear.bias"] = _linear(rng, out_dim, width)
        width = out_dim
    embed = int(params["num_filts"])
    state["class_emb.weight"] = _uniform(rng, (int(params["num_classes"]), embed), math.sqrt(3.0 / embed))
    state["user_emb.weight"] = _uniform(rng, (int(params["num_users"]), embed), math.sqrt(3.0 / embed))
    return state


def _adam_state(parameters: list[torch.Tensor], trained: list[int], lr: float, steps: int,
                rng: np.random.RandomState) -> dict[str, Any]:
    state = {}
    for index in trained:
        shape = tuple(parameters[index].shape)
        state[index] = {"step": torch.tensor(float(steps)),
                        "exp_avg": torch.from_numpy((1e-3 * rng.standard_normal(shape)).astype(np.float32)),
                        "exp_avg_sq": torch.from_numpy((1e-6 * rng.uniform(size=shape)).astype(np.float32))}
    group = {"lr": lr, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0.0, "amsgrad": False,
             "maximize": False, "foreach": None, "capturable": False, "differentiable": False, "fused": None,
             "params": list(range(len(parameters)))}
    return {"state": state, "param_groups": [group]}


def build_checkpoint(params: Mapping[str, Any], *, seed: int, layout: str = "torchspatial", epoch: int = 32,
                     tile_embed_dim: int | None = None, adam_moments: bool = True) -> dict[str, Any]:
    """The checkpoint dict the authors' ``save_model`` writes, with seeded random weights.

    layout: ``"torchspatial"`` (plain ``LocationEncoder``) or ``"csp"`` (``LocationImageEncoder``:
    ``loc_enc.`` keys, unprefixed aliases of the same tensors, ``img_dec`` of shape
    (num_filts, params['cnn_feat_dim'])). All sizes come from ``params``. ``adam_moments=False`` leaves
    the optimizer state empty (as in a file saved before the first step), which keeps files small.
    """
    rng = np.random.RandomState(seed)
    tile_dim = int(tile_embed_dim or params["num_filts"])
    loc = _location_encoder_state(params, rng, tile_dim)
    if layout == "torchspatial":
        state_dict = dict(loc)
        parameters = list(loc.values())
        # rff's dirvec/shift and user_emb never receive gradients; tile files were saved before any step
        trained = [] if params["spa_enc_type"] == "tile_ffn" else [
            i for i, key in enumerate(loc) if not key.startswith(("spa_enc.position_encoder.", "user_emb."))]
    elif layout == "csp":
        img_w, img_b = _linear(rng, int(params["num_filts"]), int(params["cnn_feat_dim"]))
        state_dict = {**{f"loc_enc.{k}": v for k, v in loc.items()}, **loc,
                      "img_dec.weight": img_w, "img_dec.bias": img_b}
        parameters = [*loc.values(), img_w, img_b]
        # pre-training: neither the class nor the user embedding gets gradients
        trained = [i for i, key in enumerate([*loc, "img_dec.weight", "img_dec.bias"])
                   if not key.startswith(("class_emb.", "user_emb."))]
    else:
        raise ValueError(f"layout must be 'torchspatial' or 'csp', got {layout!r}")
    optimizer = _adam_state(parameters, trained if adam_moments else [], float(params["lr"]), 100 * epoch, rng)
    return {"epoch": epoch, "state_dict": state_dict, "optimizer": optimizer, "params": dict(params)}


# --------------------------------------------------------------------------- saving
_NUMPY_SCALAR = np.int64(0).__reduce__()[0]  # numpy's scalar reconstructor, whatever its module is today


_PURE_PICKLER: Any = pickle._Pickler  # typeshed does not describe the pure-Python pickler's methods


class _LegacyPickler(pickle._Pickler):
    """Pickles like the authors' torch 1.x on a GPU machine.

    numpy's scalar reconstructor goes under numpy 1.x's name ``numpy.core.multiarray.scalar``, and every
    storage is tagged with ``storage_location`` (e.g. ``cuda:1``), so that loading needs ``map_location``
    on a CPU-only machine, as with the real files (csp-spec 6 and 9 item 16).
    """

    storage_location: str | None = None

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is _NUMPY_SCALAR:
            pickler: Any = self
            pickler.write(pickle.GLOBAL + b"numpy.core.multiarray\nscalar\n")
            pickler.memoize(obj)
            return
        _PURE_PICKLER.save_global(self, obj, name)

    def save_pers(self, pid: Any) -> None:
        # torch's persistent id of a storage: ("storage", type, key, location, numel)
        if self.storage_location and isinstance(pid, tuple) and pid[:1] == ("storage",):
            pid = (*pid[:3], self.storage_location, *pid[4:])
        _PURE_PICKLER.save_pers(self, pid)


def save_checkpoint(checkpoint: Mapping[str, Any], path: str | Path, device: str | None = "params") -> Path:
    """``torch.save`` (pickle protocol 2, as the authors' torch 1.x) with numpy 1.x global names.

    device: the storage location recorded in the file; ``"params"`` takes ``params['device']`` (the GPU
    the authors trained on), ``None`` keeps ``cpu``. Saved through a buffer, so the records sit under
    ``archive/`` like in TorchSpatial's files (a path would name them after the file).
    """
    if device == "params":
        device = checkpoint.get("params", {}).get("device")
    pickler = type("Pickler", (_LegacyPickler,), {"storage_location": device})
    module = types.ModuleType("legacy_pickle")  # torch.save wants a module with a Pickler
    setattr(module, "Pickler", pickler)  # noqa: B010
    buffer = io.BytesIO()
    torch.save(dict(checkpoint), buffer, pickle_module=module, pickle_protocol=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def write_checkpoint(path: str | Path, params: Mapping[str, Any], **options: Any) -> Path:
    """``save_checkpoint(build_checkpoint(params, **options), path)``; returns ``path``."""
    return save_checkpoint(build_checkpoint(params, **options), path)


# --------------------------------------------------------------------------- the project's fixture set
@dataclass(frozen=True)
class FixtureFile:
    """One checkpoint of the own fixture set: file name, layout, seed and params."""

    name: str
    layout: str
    seed: int
    params: dict[str, Any] = field(hash=False)
    tile_embed_dim: int | None = None
    epoch: int = 32
    adam_moments: bool = False

    @property
    def path(self) -> Path:
        return OWN_FIXTURES / self.name

    @property
    def expected_path(self) -> Path:
        """Expected outputs (``reference_outputs`` on ``POINTS``), or a missing path for refused files."""
        return OWN_FIXTURES / (self.name.removesuffix(".pth.tar") + ".npz")

    @property
    def convertible(self) -> bool:
        return self.params["spa_enc_type"] != "rbf"


def _ts(name: str, seed: int, dataset: str, enc: str, lr: float, s: int, r_min: float, r_max: float = 1.0,
        hidden: int = 32, layers: int = 1, act: str = "relu", adam_moments: bool = False,
        omit: tuple[str, ...] = (), **changes: Any) -> FixtureFile:
    params = torchspatial_params(name, omit, dataset=dataset, spa_enc_type=enc, lr=lr, frequency_num=s,
                                 min_radius=r_min, max_radius=r_max, hidden_dim=hidden, num_hidden_layer=layers,
                                 spa_f_act=act, num_filts=16, num_classes=6 if dataset == "fmow" else 9, **changes)
    tile = enc == "tile_ffn"  # saved at epoch 1, before any optimizer step, like the real file
    return FixtureFile(name, "torchspatial", seed, params, tile_embed_dim=16 if tile else None,
                       epoch=1 if tile else 32, adam_moments=adam_moments)


def _csp(name: str, seed: int, params_name: str | None = None, **changes: Any) -> FixtureFile:
    params = csp_params(name, params_name, frequency_num=8, hidden_dim=32, num_filts=16, cnn_feat_dim=64,
                        **changes)
    return FixtureFile(name, "csp", seed, params, epoch=1, adam_moments=True)


_FMOW_CSP = "model_fmow_gridcell_0.0010_8_0.1000000_1_32_EMB16_gelu_UNSUPER-contsoftmax_0.000050_1.000_1_0.100_" \
            "TMP1.0000_1.0000_1.0000.pth.tar"

#: Small widths (8 scales, hidden 32, embedding 16, 6-10 classes), names that encode those values.
FIXTURE_SET: tuple[FixtureFile, ...] = (
    _csp("model_inat_2018_gridcell_0.0010_8_0.1000000_1_32_EMB16_leakyrelu_UNSUPER-contsoftmax_0.000500_1.000_1_"
         "1.000_TMP20.0000_1.0000_1.0000.pth.tar", seed=1),
    _csp(_FMOW_CSP, seed=2, params_name=_FMOW_CSP.replace("gridcell_", "gridcell_inception_v3_"), dataset="fmow",
         spa_f_act="gelu", cnn_pred_type="fewshot", load_cnn_predictions=True, device="cuda:1",
         num_epochs=300, num_epochs_unsuper=300, unsuper_lr=5e-05, simcse_weight=0.1, unsuper_temp_inbatch=1.0,
         load_unsuper_model=True, load_super_model=True),
    _ts("space2vec_grid__model_yfcc_Space2Vec-grid_inception_v3_0.0100_8_0.0050000_360.000_1_32_BATCH4096_EMB16_"
        "leakyrelu.pth.tar", 3, "yfcc", "Space2Vec-grid", 0.01, 8, 0.005, 360.0, act="leakyrelu", batch_size=4096),
    _ts("space2vec_theory__model_fmow_Space2Vec-theory_inception_v3_0.0200_8_0.0001000_360.000_2_32_BATCH8192_"
        "EMB16_leakyrelu.pth.tar", 4, "fmow", "Space2Vec-theory", 0.02, 8, 0.0001, 360.0, layers=2,
        act="leakyrelu", batch_size=8192),
    _ts("sphere2vec_sphereC__model_fmow_Sphere2Vec-sphereC_inception_v3_0.0050_8_0.0005000_1_32_EMB16.pth.tar",
        5, "fmow", "Sphere2Vec-sphereC", 0.005, 8, 0.0005, omit=("save_results",), map_range=[-180, 180, -90, 90],
        eval_frequency=10, num_epochs=100, load_super_model=False),
    _ts("sphere2vec_sphereCplus__model_fmow_Sphere2Vec-sphereC+_inception_v3_0.0050_8_0.0001000_1_32_EMB16"
        ".pth.tar", 6, "fmow", "Sphere2Vec-sphereC+", 0.005, 8, 0.0001),
    _ts("sphere2vec_sphereM__model_yfcc_Sphere2Vec-sphereM_inception_v3_0.0010_8_0.0005000_1_32_EMB16.pth.tar",
        7, "yfcc", "Sphere2Vec-sphereM", 0.001, 8, 0.0005),
    # hidden width = embedding width: the last layer must still have no residual (csp-spec 9 item 2)
    _ts("nerf__model_fmow_NeRF_inception_v3_0.0100_64_0.0500000_1_16_EMB16.pth.tar", 8, "fmow", "NeRF", 0.01, 64,
        0.05, hidden=16, omit=("save_results",), map_range=[-180, 180, -90, 90], eval_frequency=10, num_epochs=30,
        load_super_model=False),
    _ts("xyz__model_fmow_xyz_inception_v3_0.0050_64_0.0005000_1_32_EMB16.pth.tar", 9, "fmow", "xyz", 0.005, 64,
        0.0005),
    _ts("rff__model_fmow_rff_inception_v3_0.0050_16_0.0000010_1_32_EMB16_2.0.pth.tar", 10, "fmow", "rff", 0.005,
        16, 1e-06, adam_moments=True, rbf_kernel_size=2.0),
    _ts("wrap_ffn__model_fmow_wrap_ffn_inception_v3_0.0020_64_0.0005000_1_32_EMB16.pth.tar", 11, "fmow",
        "wrap_ffn", 0.002, 64, 0.0005),
    _ts("tile__model_fmow_tile_ffn_inception_v3_0.00182000_32_0.0000026_1_32_EMB16_leakyrelu.pth.tar", 12, "fmow",
        "tile_ffn", 0.00182, 32, 2.57e-06, act="leakyrelu"),
    _ts("rbf__model_fmow_rbf_inception_v3_0.0050_64_0.0005000_1_32_EMB16_12_2.0.pth.tar", 13, "fmow", "rbf", 0.005,
        64, 0.0005, map_range=[-180, 180, -90, 90], num_epochs=100, load_super_model=False,
        num_rbf_anchor_pts=12, rbf_kernel_size=2.0,
        rbf_anchor_pt_ids=[np.int64(v) for v in np.random.RandomState(13).randint(0, 400_000, size=12)]),
)


def fixture_file(prefix: str) -> FixtureFile:
    """The one entry of ``FIXTURE_SET`` whose name starts with ``prefix`` (e.g. ``"rff__"``)."""
    found = [f for f in FIXTURE_SET if f.name.startswith(prefix)]
    if len(found) != 1:
        raise KeyError(f"{len(found)} own fixtures start with {prefix!r}")
    return found[0]


def generate(out_dir: str | Path) -> list[Path]:
    """Write every checkpoint of ``FIXTURE_SET``, its expected outputs and ``versions.json`` into ``out_dir``."""
    from csp_reference import POINTS, reference_outputs

    out_dir = Path(out_dir)
    written = []
    for item in FIXTURE_SET:
        checkpoint = build_checkpoint(item.params, seed=item.seed, layout=item.layout,
                                      tile_embed_dim=item.tile_embed_dim, epoch=item.epoch,
                                      adam_moments=item.adam_moments)
        written.append(save_checkpoint(checkpoint, out_dir / item.name))
        if item.convertible:
            ref = reference_outputs(checkpoint["params"], checkpoint["state_dict"], POINTS)
            target = out_dir / item.expected_path.name
            np.savez(target, points=POINTS, embedding=ref.embedding, logits=ref.logits,  # float64
                     embedding_terms=ref.embedding_terms.astype(np.float32),  # only a scale: float32 is enough
                     logit_terms=ref.logit_terms.astype(np.float32))
            written.append(target)
    versions = out_dir / "versions.json"  # torch.save's bytes depend on the torch version
    versions.write_text(json.dumps({"torch": torch.__version__, "numpy": np.__version__}, indent=1) + "\n")
    return [*written, versions]
