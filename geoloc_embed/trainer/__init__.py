"""Training location encoders: CSP pre-training, geo_prior fine-tuning, evaluation.

Submodules are light to import; the public names:

* losses: ``mc_loss``, ``nce_loss``, ``mse_loss``, ``presence_absence_loss``, ``LossTerms``
* samplers: ``build_negative_sampler``, ``sample_uniform_sphere``, ``sample_sphericalold``, ...
* data: ``GeoDataset``, ``load_csp_split``, ``load_arrays``, ``load_parquet``,
  ``ClassBalancedSampler``, ``stratified_subset``
* configs: ``PretrainConfig``, ``FinetuneConfig``, ``EvalConfig``, ``DataConfig``
* loops: ``pretrain``, ``finetune``, ``evaluate``, ``run_evaluate``; ``StopTraining``
* checkpoints: ``CheckpointError`` (a damaged/foreign ``checkpoint.pt``)
* CLI: ``geoloc_embed.trainer.cli.register(subparsers)``

The machinery (one concept each): ``devices`` (device, ``amp`` precision), ``distributed``,
``checkpoint``, ``metrics``, ``dropout``, ``runtime`` (optimizer, model wrapping), ``loop``
(``TrainLoop``); ``engine`` re-exports them under the historical name.
"""

from .checkpoint import CheckpointError
from .config import (
    DataConfig,
    EvalConfig,
    FinetuneConfig,
    PretrainConfig,
    apply_overrides,
    load_config,
)
from .data import (
    ClassBalancedSampler,
    GeoDataset,
    load_arrays,
    load_csp_split,
    load_dataset,
    load_parquet,
    stratified_subset,
)
from .evaluate import evaluate, run_evaluate
from .finetune import finetune
from .loop import StopTraining
from .losses import LossTerms, mc_loss, mse_loss, nce_loss, presence_absence_loss
from .pretrain import ImageLocationModel, pretrain
from .samplers import build_negative_sampler, sample_sphericalold, sample_uniform_sphere

__all__ = [
    "LossTerms", "mc_loss", "nce_loss", "mse_loss", "presence_absence_loss",
    "build_negative_sampler", "sample_uniform_sphere", "sample_sphericalold",
    "GeoDataset", "load_csp_split", "load_arrays", "load_parquet", "load_dataset",
    "ClassBalancedSampler", "stratified_subset",
    "DataConfig", "PretrainConfig", "FinetuneConfig", "EvalConfig", "load_config", "apply_overrides",
    "pretrain", "finetune", "evaluate", "run_evaluate", "ImageLocationModel", "StopTraining",
    "CheckpointError",
]
