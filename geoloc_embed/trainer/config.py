"""Run configurations: one JSON-able dataclass per run, saved beside every checkpoint.

``PretrainConfig`` and ``FinetuneConfig`` share ``DataConfig`` and the location-encoder architecture
under ``model``: an architecture name (``"csp-grid"``), ``{"architecture": name, **overrides}``, a
format-2 ``LocationEncoderConfig`` dict or an old flat (format-1) dict
(``geoloc_embed.architectures.resolve_model_config``). It is stored as the explicit format-2 dict, so
a saved ``train_config.json`` pins the architecture. Keys starting with "_" (e.g. "_notes") are
comments and ignored; any other unknown key is an error. ``apply_overrides`` sets dotted fields
from strings (CLI flags), parsing them as JSON when possible (``model.dropout`` is routed to the
sub-config with that field; ``model.network.dropout`` names it).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, TypeVar, Union, cast

from ..architectures import resolve_model_config
from ..config import LocationEncoderConfig
from ..errors import ConfigError

__all__ = [
    "DataConfig",
    "PretrainConfig",
    "FinetuneConfig",
    "EvalConfig",
    "load_config",
    "apply_overrides",
    "config_to_dict",
    "config_from_dict",
]

T = TypeVar("T")

_LOSSES = ("mc", "mc-sym", "nce", "mse")
_AMP = ("none", "bf16", "fp16")
_SAMPLERS = ("uniform", "sphericalold", "plate", "data", "bbox")


@dataclass
class DataConfig:
    """Where the samples come from.

    format: "csp" (the authors' iNat2018/fMoW layout under ``root``), "arrays" (``.npz`` files with
        locations/labels/features/image_probs) or "parquet".
    root: for "csp", ``geo_prior_data_csp/data`` or the dataset directory itself.
    dataset: "inat_2018" or "fmow" (for "csp").
    train_path, val_path: files for "arrays"/"parquet".
    num_classes: overrides the class count read from the data (0 = infer).
    columns: Parquet column names (lon, lat, label, features, image_probs).
    data_on_device: move the whole training set to the training device once (fast); when False
        the tensors stay in (pinned) CPU memory and each index batch is transferred.
    """

    format: str = "csp"
    root: str = ""
    dataset: str = "inat_2018"
    train_path: str = ""
    val_path: str = ""
    num_classes: int = 0
    columns: dict = field(default_factory=dict)
    data_on_device: bool = True

    def validate(self) -> None:
        if self.format not in ("csp", "arrays", "parquet"):
            raise ConfigError(f"data.format must be csp, arrays or parquet, got {self.format!r}")


@dataclass
class _RunConfig:
    """Fields shared by pre-training and fine-tuning.

    output_dir: checkpoint.pt, train_config.json, metrics.csv/jsonl and the exported model/.
    seed: model init, dropout (seed + rank), epoch orders and negatives derive from it.
    device: "auto" (cuda if available), "cpu", "cuda", "cuda:1", ...
    amp: "none" (float32) | "bf16" (bfloat16 autocast of the forward pass, on CUDA and on CPU: the
        encoder, projection and class-head matmuls in bf16, the loss, parameters and Adam state
        in float32; fast only on GPUs and on CPUs with AVX512-BF16/AMX) | "fp16" (float16 autocast
        with a GradScaler, CUDA only: on CPU it runs float32). See ``geoloc_embed.trainer.devices``.
    compile: wrap the model in ``torch.compile``.
    epochs, max_steps (0 = no limit; stops early with a checkpoint), batch_size (global under
        DDP), drop_last, lr, weight_decay (Adam).
    balanced, max_per_class: class-balanced epochs (the authors' BalancedSampler) when labels exist.
    checkpoint_every: also write the checkpoint every that many steps (0 = only at the end).
    log_every: steps between metrics.csv rows (0 = none); progress: tqdm bars.
    resume: continue exactly from ``output_dir/checkpoint.pt`` when it exists.
    fast_cpu_dropout: on CPU draw dropout masks with ``rand >= p`` (same distribution, ~3x
        faster than torch's CPU bernoulli kernel).
    """

    output_dir: str = "runs/geoloc"
    seed: int = 0
    device: str = "auto"
    amp: str = "none"
    compile: bool = False
    epochs: int = 1
    max_steps: int = 0
    batch_size: int = 1024
    drop_last: bool = False
    lr: float = 1e-3
    weight_decay: float = 0.0
    balanced: bool = True
    max_per_class: int = 100
    checkpoint_every: int = 0
    log_every: int = 10
    progress: bool = True
    resume: bool = False
    fast_cpu_dropout: bool = True
    data: DataConfig = field(default_factory=DataConfig)
    model: Union[dict, str] = field(default_factory=dict)

    def validate(self) -> None:
        def fail(msg: str) -> None:
            raise ConfigError(f"{type(self).__name__}: {msg}")

        if self.amp not in _AMP:
            fail(f"amp must be one of {_AMP}, got {self.amp!r}")
        for name in ("epochs", "batch_size", "max_per_class"):
            if int(getattr(self, name)) < 1:
                fail(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("max_steps", "checkpoint_every", "log_every"):
            if int(getattr(self, name)) < 0:
                fail(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.lr <= 0:
            fail(f"lr must be positive, got {self.lr}")
        self.data.validate()
        try:
            self.model_config()
        except ConfigError as exc:
            fail(f"model: {exc}")

    def model_config(self) -> LocationEncoderConfig:
        return resolve_model_config(self.model)

    def __post_init__(self) -> None:
        if isinstance(self.data, Mapping):
            self.data = _from_dict(DataConfig, self.data)
        try:
            self.model = resolve_model_config(self.model).to_dict()
        except ConfigError as exc:
            raise ConfigError(f"{type(self).__name__}: model: {exc}") from exc
        for name in ("temperatures", "mc_weights", "nce_weights", "neg_bbox", "topk"):
            if isinstance(getattr(self, name, None), list):
                setattr(self, name, tuple(getattr(self, name)))
        self.validate()


@dataclass
class PretrainConfig(_RunConfig):
    """CSP pre-training (csp-spec.md section 2).

    loss: "mc" (CSP-MC, ``contsoftmax``), "mc-sym" (``contsoftmaxsym``), "nce" (CSP-NCE) or
        "mse" (the ``l2regress`` baseline).
    temperatures: (tau0, tau1, tau2) dividing the B, L, D logits (MC only).
    mc_weights: (alpha1, alpha2) for L and D; nce_weights: (beta1, beta2).
    num_negatives: C random negative locations per anchor (the L term).
    neg_sampler: "uniform" (correct, default) | "sphericalold" (the authors') | "plate" | "data" |
        "bbox"; neg_jitter (degrees, "data") and neg_bbox (lon_min, lon_max, lat_min, lat_max).
    feature_dim: input size of the image projection W (0 = infer from the data).
    image_proj_bias: W = nn.Linear(feature_dim, d, bias=True) as in the authors' code.
    image_proj_hidden: 0 = W is that single linear layer (the authors' code); > 0 = a two-layer
        MLP Linear(F, h) -> ReLU -> Linear(h, d) (the paper's wording, "multi-layer perceptron").
    gather_negatives: under DDP, use every rank's images (and second-pass locations) as
        in-batch negatives (all_gather with gradient); False = per-rank negatives only.
    skip_zero_weight_terms: do not compute loss terms whose weight is 0 (the authors compute
        them anyway; results are the same, only the dropout random stream differs).
    """

    output_dir: str = "runs/csp-pretrain"
    epochs: int = 30
    lr: float = 5e-4
    loss: str = "mc"
    temperatures: tuple = (1.0, 1.0, 1.0)
    mc_weights: tuple = (1.0, 1.0)
    nce_weights: tuple = (1.0, 1.0)
    num_negatives: int = 1
    neg_sampler: str = "uniform"
    neg_jitter: float = 0.0
    neg_bbox: Optional[tuple] = None
    feature_dim: int = 0
    image_proj_bias: bool = True
    image_proj_hidden: int = 0
    gather_negatives: bool = True
    skip_zero_weight_terms: bool = True

    def validate(self) -> None:
        super().validate()
        if self.loss not in _LOSSES:
            raise ConfigError(f"PretrainConfig: loss must be one of {_LOSSES}, got {self.loss!r}")
        if len(self.temperatures) != 3 or any(float(t) <= 0 for t in self.temperatures):
            raise ConfigError(f"PretrainConfig: temperatures must be 3 positive numbers, got {self.temperatures!r}")
        if len(self.mc_weights) != 2 or len(self.nce_weights) != 2:
            raise ConfigError("PretrainConfig: mc_weights and nce_weights take two numbers each (L, D)")
        if self.num_negatives < 0:
            raise ConfigError(f"PretrainConfig: num_negatives must be >= 0, got {self.num_negatives}")
        if self.neg_sampler not in _SAMPLERS:
            raise ConfigError(f"PretrainConfig: neg_sampler must be one of {_SAMPLERS}, got {self.neg_sampler!r}")


@dataclass
class FinetuneConfig(_RunConfig):
    """Supervised location fine-tuning with the presence-absence loss (csp-spec.md section 3).

    pretrained: a pre-training output dir (with ``checkpoint.pt``), a model dir written by
        ``save_pretrained``, a registered name, or "" to train from scratch ("Sup. Only").
    train_sample_ratio: labelled fraction (stratified-fix subset; 1.0 = all).
    subset_seed: seed of the subset draw (the cached ``sample_idx`` file wins when it exists).
    lr, lr_decay: the LR is reset to ``lr`` and set to lr * lr_decay ** epoch at each epoch start.
    neg_sampler: the random background location sampler (the authors: "sphericalold").
    rand_sample_weight: weight of the background term; pos_weight: positive weight (None = Q).
    init_optimizer_from_pretrain: carry the Adam state over from pre-training (the authors keep
        one optimizer for both stages).
    eval_every: evaluate on the val split every that many epochs (0 = only at the end; needs val data).
    eval_predictions: image predictions used for the fused accuracy: "fewshot" (at
        ``train_sample_ratio``), "full", or "none".
    """

    output_dir: str = "runs/csp-finetune"
    epochs: int = 200
    lr: float = 1e-3
    pretrained: str = ""
    train_sample_ratio: float = 0.05
    subset_seed: int = 0
    lr_decay: float = 0.98
    neg_sampler: str = "uniform"
    neg_jitter: float = 0.0
    neg_bbox: Optional[tuple] = None
    rand_sample_weight: float = 1.0
    pos_weight: Optional[float] = None
    init_optimizer_from_pretrain: bool = True
    eval_every: int = 0
    eval_predictions: str = "fewshot"

    def validate(self) -> None:
        super().validate()
        if not 0 < self.train_sample_ratio <= 1:
            raise ConfigError(f"FinetuneConfig: train_sample_ratio must be in (0, 1], got {self.train_sample_ratio}")
        if self.neg_sampler not in _SAMPLERS:
            raise ConfigError(f"FinetuneConfig: neg_sampler must be one of {_SAMPLERS}, got {self.neg_sampler!r}")
        if self.eval_predictions not in ("fewshot", "full", "none"):
            raise ConfigError("FinetuneConfig: eval_predictions must be fewshot, full or none")


@dataclass
class EvalConfig:
    """Top-k evaluation of a fine-tuned encoder (csp-spec.md section 3.3).

    model: a model dir (``save_pretrained``), a fine-tuning output dir, or a registered name.
    predictions: "fewshot" (at ``ratio``), "full" or "none" (location-only).
    """

    model: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    split: str = "val"
    predictions: str = "fewshot"
    ratio: float = 0.05
    batch_size: int = 8192
    topk: tuple = (1, 3, 5, 10)
    device: str = "auto"
    output: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.data, Mapping):
            self.data = _from_dict(DataConfig, self.data)
        if isinstance(self.topk, list):
            self.topk = tuple(self.topk)
        if self.predictions not in ("fewshot", "full", "none"):
            raise ConfigError("EvalConfig: predictions must be fewshot, full or none")


# --------------------------------------------------------------------------- (de)serialisation
def _from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cast(Any, cls))}
    clean = {k: v for k, v in data.items() if not str(k).startswith("_")}
    unknown = sorted(set(clean) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        return cls(**clean)
    except TypeError as exc:
        raise ConfigError(f"invalid {cls.__name__}: {exc}") from exc


def config_from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build ``cls`` (a run config dataclass) from a dict; "_"-prefixed keys are ignored."""
    return _from_dict(cls, data)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-able dict of a run config (tuples become lists)."""

    def plain(x: Any) -> Any:
        if dataclasses.is_dataclass(x):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        return x

    return plain(cfg)


def load_config(cls: type[T], path: Union[str, Path]) -> T:
    """Read a JSON config file into ``cls``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    return _from_dict(cls, data)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text


def apply_overrides(cfg: T, overrides: Mapping[str, Any]) -> T:
    """A copy of ``cfg`` with dotted ``overrides`` applied (``"data.root"``, ``"model.embed_dim"``).

    String values are parsed as JSON when they are valid JSON ("0.1", "[1, 20, 1]", "true").
    """
    data = config_to_dict(cfg)
    for key, value in overrides.items():
        if isinstance(value, str):
            value = _parse_value(value)
        parts = key.replace("-", "_").split(".")
        node = data
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"unknown config field {key!r}")
            node = node[part]
        if parts[0] != "model" and parts[-1] not in node and not (len(parts) > 1 and parts[0] == "data"
                                                                   and parts[1] == "columns"):
            raise ConfigError(f"unknown config field {key!r}; known: {', '.join(sorted(data))}")
        node[parts[-1]] = value
    return _from_dict(type(cfg), data)
