"""Training location encoders: CSP pre-training, geo_prior fine-tuning, evaluation.

Submodules are light to import; the public names:

* losses: ``mc_loss``, ``nce_loss``, ``mse_loss``, ``presence_absence_loss``, ``LossTerms``
* samplers: ``build_negative_sampler``, ``sample_uniform_sphere``, ``sample_sphericalold``, ...
* data: ``GeoDataset`` (``dataset``), ``load_csp_split`` (``csp_data``), ``load_arrays``,
  ``load_parquet``, ``load_dataset`` (``data``), ``ClassBalancedSampler``, ``stratified_subset``
  (``subsets``); ``trainer.data`` re-exports them all
* configs: ``PretrainConfig``, ``FinetuneConfig``, ``EvalConfig``, ``DataConfig``
* loops: ``pretrain``, ``finetune``, ``evaluate``, ``run_evaluate``; ``StopTraining``
* checkpoints: ``CheckpointError`` (a damaged/foreign ``checkpoint.pt``)
* CLI: ``geoloc_embed.trainer.cli.register(subparsers)``

The machinery (one concept each): ``devices`` (device, ``amp`` precision), ``distributed``,
``checkpoint``, ``metrics``, ``dropout``, ``runtime`` (optimizer, model wrapping), ``loop``
(``TrainLoop``); ``engine`` is a compatibility shim re-exporting them under the historical name.
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
from .csp_data import load_csp_split
from .data import load_arrays, load_dataset, load_parquet
from .dataset import GeoDataset
from .evaluate import evaluate, run_evaluate
from .finetune import finetune
from .loop import StopTraining
from .losses import LossTerms, mc_loss, mse_loss, nce_loss, presence_absence_loss
from .pretrain import ImageLocationModel, pretrain
from .samplers import build_negative_sampler, sample_sphericalold, sample_uniform_sphere
from .subsets import ClassBalancedSampler, stratified_subset

__all__ = [
    "LossTerms", "mc_loss", "nce_loss", "mse_loss", "presence_absence_loss",
    "build_negative_sampler", "sample_uniform_sphere", "sample_sphericalold",
    "GeoDataset", "load_csp_split", "load_arrays", "load_parquet", "load_dataset",
    "ClassBalancedSampler", "stratified_subset",
    "DataConfig", "PretrainConfig", "FinetuneConfig", "EvalConfig", "load_config", "apply_overrides",
    "pretrain", "finetune", "evaluate", "run_evaluate", "ImageLocationModel", "StopTraining",
    "CheckpointError",
]
