"""Supervised fine-tuning of a (pre-trained) location encoder with geo_prior's presence-absence loss.

csp-spec.md section 3: a stratified labelled subset at ``train_sample_ratio`` (cached under
``sample_idx/``), class-balanced epochs, one random background location per example, the whole
encoder trained (dropout on), LR reset to ``lr`` and set to lr * lr_decay ** epoch at each epoch
start, no early stopping (the last epoch is exported).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor, nn

from ..architectures import resolve_model_config
from ..encoders.model import LocationEncoder
from ..errors import ConfigError
from ..io import atomic_write_text
from .checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint
from .config import FinetuneConfig, config_to_dict
from .data import GeoDataset, load_dataset, stratified_subset
from .devices import full_precision, resolve_device
from .distributed import DistContext, init_distributed
from .dropout import restore_dropout
from .evaluate import evaluate
from .loop import TrainLoop
from .losses import LossTerms, presence_absence_loss
from .pretrain import _place, make_epoch_order
from .runtime import make_adam, prepare_run_model, rows
from .samplers import build_negative_sampler

__all__ = ["ClassifierModel", "FinetuneResult", "finetune", "load_for_finetuning", "build_finetune_step"]

logger = logging.getLogger("geoloc_embed.trainer")


class ClassifierModel(nn.Module):
    """forward(lonlat (M, 2)) -> (M, Q) class logits e(x) . T (wraps a ``LocationEncoder`` with a head)."""

    def __init__(self, loc_enc: LocationEncoder) -> None:
        super().__init__()
        self.loc_enc = loc_enc

    def forward(self, lonlat: Tensor) -> Tensor:
        return self.loc_enc.class_logits(self.loc_enc(lonlat))


@dataclass
class FinetuneResult:
    encoder: LocationEncoder
    output_dir: Path
    summary: dict
    metrics: Optional[dict]


def load_for_finetuning(pretrained: str, num_classes: int, model_fields: Any = None
                        ) -> tuple[LocationEncoder, Optional[dict]]:
    """(encoder with a fresh ``num_classes`` head, pre-training checkpoint or None).

    ``pretrained`` is a pre-training output dir (weights read from its ``checkpoint.pt``), a
    model dir, a registered name, or "" (a new encoder from ``model_fields``: any form
    ``geoloc_embed.architectures.resolve_model_config`` takes).
    """
    if not pretrained:
        cfg = resolve_model_config(model_fields or {}).replace(num_classes=num_classes)
        return LocationEncoder(cfg), None
    p = Path(pretrained)
    ckpt = None
    if p.is_dir() and (p / CHECKPOINT_NAME).is_file():
        path = p / CHECKPOINT_NAME
        ckpt = load_checkpoint(path, hint=f"re-run the pre-training into {p}, or point pretrained (--pretrained) "
                                          f"at its exported encoder {p / 'model'}")
        try:
            base_cfg = resolve_model_config(ckpt["config"]["model"])
        except ConfigError as exc:
            raise CheckpointError(f"trainer checkpoint {path}: its model architecture is invalid ({exc})") from None
        state = {k[len("loc_enc."):]: v for k, v in ckpt["model"].items() if k.startswith("loc_enc.")}
    else:
        from .evaluate import load_encoder

        src = load_encoder(pretrained)
        base_cfg, state = src.config, src.state_dict()
    enc = LocationEncoder(base_cfg.replace(num_classes=num_classes))
    state = {k: v for k, v in state.items() if not k.startswith("class_head.")}
    missing, unexpected = enc.load_state_dict(state, strict=False)
    bad = [k for k in missing if not k.startswith("class_head.")]
    if bad or unexpected:
        raise ValueError(f"{pretrained} does not match its config: missing {bad}, unexpected {unexpected}")
    return enc, ckpt


def _carry_optimizer_state(optimizer: torch.optim.Optimizer, model: nn.Module, ckpt: dict) -> int:
    """Copy per-parameter optimizer state (Adam moments, step) from the pre-training checkpoint by name."""
    names = ckpt.get("param_names") or []
    old_state = ckpt["optimizer"]["state"]
    by_name = {n: old_state[i] for i, n in enumerate(names) if i in old_state}
    new = optimizer.state_dict()
    new_names = [n for n, p in model.named_parameters() if p.requires_grad]
    carried = 0
    for j, n in enumerate(new_names):
        if n in by_name:
            new["state"][j] = by_name[n]
            carried += 1
    optimizer.load_state_dict(new)
    return carried


def build_finetune_step(cfg: FinetuneConfig, model: nn.Module, tensors: dict[str, Tensor], device: torch.device,
                        dist_ctx: DistContext, neg_sampler: Any, neg_gen: torch.Generator
                        ) -> Callable[[Tensor, int], LossTerms]:
    """The step function: (rank-local index batch, epoch) -> presence-absence ``LossTerms``.

    ``model`` maps (M, 2) lon/lat to (M, Q) class logits (``ClassifierModel``); ``tensors`` holds
    "locations" (N, 2) and "labels" (N,). One forward over the batch and one background location
    per example (drawn for the global batch, each rank keeping its slice); the loss in float32.
    """
    world, rank = dist_ctx.world_size, dist_ctx.rank

    def step(idx: Tensor, epoch: int) -> LossTerms:
        n = idx.shape[0]
        x = rows(tensors["locations"], idx, device)
        y = rows(tensors["labels"], idx, device)
        neg = neg_sampler(n * world, neg_gen)[rank * n:(rank + 1) * n]
        logits = model(torch.cat([x, neg]))
        with full_precision(device):  # the loss in float32, also under bf16 autocast
            at_x, at_neg = logits.float().split(n)  # one split: its backward fills one buffer, not two
            return presence_absence_loss(at_x, at_neg, y, pos_weight=cfg.pos_weight,
                                         rand_sample_weight=cfg.rand_sample_weight)

    return step


def finetune(config: FinetuneConfig, *, train_data: Optional[GeoDataset] = None,
             val_data: Optional[GeoDataset] = None, callbacks: Sequence[Callable[..., Any]] = ()) -> FinetuneResult:
    """Fine-tune per ``config``; export ``output_dir/model`` (with class head) and ``eval.json``.

    ``amp="bf16"`` autocasts the encoder and class head to bfloat16 (CUDA or CPU); the
    presence-absence loss is computed in float32, parameters and Adam state stay float32.
    Resuming (``resume=True``) or starting from a pre-training directory reads its
    ``checkpoint.pt`` with ``load_checkpoint`` (a damaged file raises ``CheckpointError``).
    """
    cfg = config
    dist_ctx = init_distributed(cfg.device)
    try:
        device = resolve_device(cfg.device, dist_ctx.local_rank)
        torch.manual_seed(cfg.seed + dist_ctx.rank)
        data_spec = config_to_dict(cfg.data)
        if train_data is None:
            train_data = load_dataset(data_spec, "train", load_features=False)
        labels = train_data.labels
        if labels is None:
            raise ValueError("fine-tuning needs class labels")
        valid = train_data.valid_location_mask() & (labels >= 0)
        if not bool(valid.all()):
            train_data = train_data.subset(torch.nonzero(valid).flatten())
            labels = labels[valid]
        num_classes = cfg.data.num_classes or train_data.num_classes
        cache_dir = train_data.meta.get("dir") if train_data.meta.get("source") == "csp" else cfg.output_dir
        subset = stratified_subset(labels, cfg.train_sample_ratio, seed=cfg.subset_seed,
                                   cache_dir=cache_dir if cfg.train_sample_ratio < 1 else None)
        labelled = train_data.subset(subset)
        logger.info("fine-tuning on %d of %d labelled samples (ratio %.3f)", len(labelled), len(train_data),
                    cfg.train_sample_ratio)

        enc, ckpt = load_for_finetuning(cfg.pretrained, num_classes, cfg.model)
        model = ClassifierModel(enc).to(device)
        optimizer = make_adam([p for p in model.parameters() if p.requires_grad], cfg.lr, cfg.weight_decay)
        if ckpt is not None and cfg.init_optimizer_from_pretrain and not cfg.resume:
            n = _carry_optimizer_state(optimizer, model, ckpt)
            logger.info("carried the optimizer state of %d parameters over from pre-training", n)
        run_model, swapped = prepare_run_model(model, cfg, device, dist_ctx)
        tensors = _place(labelled, device, cfg.data.data_on_device)
        sampler = build_negative_sampler(cfg.neg_sampler, locations=tensors["locations"], jitter=cfg.neg_jitter,
                                         bbox=cfg.neg_bbox)
        neg_gen = torch.Generator(device=device).manual_seed(cfg.seed + 104_729)
        step = build_finetune_step(cfg, run_model, tensors, device, dist_ctx, sampler, neg_gen)

        if val_data is None:
            try:
                preds = None if cfg.eval_predictions == "none" else cfg.eval_predictions
                val_data = load_dataset(data_spec, "val", load_features=False, predictions=preds,
                                        ratio=cfg.train_sample_ratio)
            except (FileNotFoundError, ValueError, KeyError) as exc:
                logger.info("no validation data (%s): skipping evaluation", exc)
                val_data = None

        def epoch_end(epoch: int) -> Optional[dict]:
            if val_data is None or not cfg.eval_every or (epoch + 1) % cfg.eval_every:
                return None
            if not dist_ctx.is_main:
                return None
            m = evaluate(enc, val_data, device=device)
            return {f"val_{k}": v for k, v in m.items()}

        loop = TrainLoop(config=cfg, model=run_model, state_module=model, optimizer=optimizer,
                         epoch_order=make_epoch_order(labelled, cfg), step_fn=step, device=device,
                         dist_ctx=dist_ctx, generators={"negatives": neg_gen},
                         lr_at_epoch=lambda e: cfg.lr * cfg.lr_decay ** e, callbacks=callbacks,
                         epoch_end=epoch_end)
        try:
            summary = loop.run()
        finally:
            restore_dropout(swapped)
        out = Path(cfg.output_dir)
        metrics = None
        if dist_ctx.is_main:
            enc.save_pretrained(out / "model")
            if val_data is not None:
                metrics = evaluate(enc, val_data, device=device)
                atomic_write_text(out / "eval.json", json.dumps(metrics, indent=2) + "\n")
                loop.metrics.log({"event": "final_eval", **metrics}, csv_row=False)
        dist_ctx.barrier()
        return FinetuneResult(encoder=enc, output_dir=out, summary=summary, metrics=metrics)
    finally:
        dist_ctx.close()
