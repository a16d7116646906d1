"""CSP pre-training: frozen image features (or a frozen image module) + projection W + location encoder.

Each step runs the location encoder ONCE, on the device, over the concatenation of the N anchors,
the N*C negatives (the authors' row order c*N + i) and the N anchors again (the SimCSE second
pass: dropout draws independent masks per row), then splits the output. Data comes from
in-memory tensors indexed by whole index batches; no numpy and no per-item transfers in the step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor, nn

from ..encoders.model import LocationEncoder
from .config import PretrainConfig, config_to_dict
from .data import ClassBalancedSampler, GeoDataset, load_dataset
from .devices import full_precision, resolve_device
from .distributed import DistContext, gather_with_grad, init_distributed
from .dropout import restore_dropout
from .loop import TrainLoop
from .losses import LossTerms, mc_loss, mse_loss, nce_loss
from .runtime import epoch_generator, make_adam, prepare_run_model, rows
from .samplers import build_negative_sampler

__all__ = ["ImageLocationModel", "PretrainResult", "pretrain", "make_epoch_order", "build_pretrain_step"]

logger = logging.getLogger("geoloc_embed.trainer")


class ImageLocationModel(nn.Module):
    """The CSP dual encoder: e(x) (``loc_enc``) and f(I) = W(F(I)) (``img_proj`` = W).

    ``image_encoder`` (optional) is the frozen F fed raw images; without it the inputs are
    precomputed features F(I). ``loc_dec`` (MSE baseline only) = Linear(d -> feature_dim).

    forward(lonlat (M, 2), inputs (N, ...)) -> {"loc": (M, d), "img": (N, d), "features": (N, F),
    "decoded": (M, F) or None}.
    """

    def __init__(self, loc_enc: LocationEncoder, feature_dim: int, *, bias: bool = True,
                 image_encoder: Optional[nn.Module] = None, mse: bool = False, proj_hidden: int = 0) -> None:
        super().__init__()
        self.loc_enc = loc_enc
        d = loc_enc.embed_dim
        self.img_proj: nn.Module = (nn.Linear(feature_dim, d, bias=bias) if proj_hidden <= 0 else
                                    nn.Sequential(nn.Linear(feature_dim, proj_hidden), nn.ReLU(),
                                                  nn.Linear(proj_hidden, d, bias=bias)))
        self.image_encoder = image_encoder
        if image_encoder is not None:
            image_encoder.requires_grad_(False)
            image_encoder.eval()
        self.loc_dec = nn.Linear(loc_enc.embed_dim, feature_dim) if mse else None

    def train(self, mode: bool = True) -> "ImageLocationModel":
        super().train(mode)
        if self.image_encoder is not None:
            self.image_encoder.eval()  # frozen F stays in eval mode (LiT-style)
        return self

    def forward(self, lonlat: Tensor, inputs: Tensor) -> dict[str, Optional[Tensor]]:
        loc = self.loc_enc(lonlat)
        if self.image_encoder is not None:
            with torch.no_grad():
                feats = self.image_encoder(inputs).flatten(1).float()
        else:
            feats = inputs
        if self.loc_dec is not None:
            return {"loc": loc, "img": None, "features": feats, "decoded": self.loc_dec(loc)}
        return {"loc": loc, "img": self.img_proj(feats), "features": feats, "decoded": None}


@dataclass
class PretrainResult:
    model: ImageLocationModel
    encoder: LocationEncoder
    output_dir: Path
    summary: dict


def make_epoch_order(data: GeoDataset, cfg: Any) -> Callable[[int], Tensor]:
    """epoch -> global row order: class-balanced (``cfg.balanced`` and labels) or a permutation."""
    labels = data.labels
    sampler = ClassBalancedSampler(labels, cfg.max_per_class) if cfg.balanced and labels is not None else None
    n = len(data)

    def order(epoch: int) -> Tensor:
        g = epoch_generator(cfg.seed, epoch)
        return sampler.epoch_indices(g) if sampler is not None else torch.randperm(n, generator=g)

    return order


def _place(data: GeoDataset, device: torch.device, on_device: bool) -> dict[str, Tensor]:
    out = {"locations": data.locations}
    if data.features is not None:
        out["features"] = data.features
    if data.labels is not None:
        out["labels"] = data.labels
    for k, v in out.items():
        if on_device:
            out[k] = v.to(device)
        elif device.type == "cuda":
            out[k] = v.pin_memory()
    return out


def build_pretrain_step(cfg: PretrainConfig, model: nn.Module, tensors: dict[str, Tensor], device: torch.device,
                        dist_ctx: DistContext, neg_sampler: Any, neg_gen: torch.Generator) -> Callable[..., LossTerms]:
    """The step function: (rank-local index batch, epoch) -> LossTerms."""
    loss = cfg.loss
    contrastive = loss != "mse"
    weights = cfg.nce_weights if loss == "nce" else cfg.mc_weights
    skip = cfg.skip_zero_weight_terms
    num_neg = cfg.num_negatives if contrastive and not (skip and float(weights[0]) == 0.0) else 0
    use_d = contrastive and not (skip and float(weights[1]) == 0.0)
    gather = dist_ctx.enabled and cfg.gather_negatives
    world, rank = dist_ctx.world_size, dist_ctx.rank

    def step(idx: Tensor, epoch: int) -> LossTerms:
        n = idx.shape[0]
        x = rows(tensors["locations"], idx, device)
        inputs = rows(tensors["features"], idx, device)
        parts = [x]
        if num_neg:
            g_n = n * world  # negatives are drawn for the global batch, each rank keeps its slice
            neg = neg_sampler(num_neg * g_n, neg_gen).view(num_neg, g_n, 2)
            parts.append(neg[:, rank * n:(rank + 1) * n].reshape(num_neg * n, 2))
        if use_d:
            parts.append(x)
        out = model(torch.cat(parts) if len(parts) > 1 else x, inputs)
        with full_precision(device):
            return _loss(out, n)

    def _loss(out: dict, n: int) -> LossTerms:
        emb = out["loc"].float()
        if not contrastive:
            return mse_loss(out["decoded"][:n].float(), out["features"].float())
        # one split (its backward writes the three gradients into one buffer) rather than three slices
        u, neg_rows, u2_rows = torch.split(emb, [n, num_neg * n, n if use_d else 0])
        neg_u = neg_rows.view(num_neg, n, -1).transpose(0, 1) if num_neg else None
        u2 = u2_rows if use_d else None
        v = out["img"].float()
        offset, u_all = 0, None
        if gather:
            offset = rank * n
            v = gather_with_grad(v, dist_ctx)
            if u2 is not None:
                u2 = gather_with_grad(u2, dist_ctx)
            if loss == "mc-sym":
                u_all = gather_with_grad(u, dist_ctx)
        if loss == "nce":
            return nce_loss(u, u2, v, neg_u, weights=cfg.nce_weights, offset=offset)
        return mc_loss(u, u2, v, neg_u, temperatures=cfg.temperatures, weights=cfg.mc_weights,
                       symmetric=loss == "mc-sym", offset=offset, u_all=u_all)

    return step


def pretrain(config: PretrainConfig, *, train_data: Optional[GeoDataset] = None,
             image_encoder: Optional[nn.Module] = None, callbacks: Sequence[Callable[..., Any]] = (),
             loc_encoder: Optional[LocationEncoder] = None) -> PretrainResult:
    """Run CSP pre-training described by ``config``; returns the trained model.

    Writes ``output_dir/checkpoint.pt`` (every ``checkpoint_every`` steps and at the end),
    ``train_config.json``, ``metrics.csv``/``metrics.jsonl`` and the location encoder as
    ``output_dir/model`` (``LocationEncoder.from_pretrained(output_dir / "model")`` loads it).
    Under ``torchrun`` it trains with DDP (gloo on CPU, NCCL on GPU); ``batch_size`` is global.
    ``amp="bf16"`` autocasts the forward pass (location encoder and projection W) to bfloat16 on
    CUDA or CPU; the loss is computed in float32 from ``.float()`` embeddings and the parameters
    and Adam state stay float32 (``geoloc_embed.trainer.devices``).
    """
    cfg = config
    dist_ctx = init_distributed(cfg.device)
    try:
        device = resolve_device(cfg.device, dist_ctx.local_rank)
        torch.manual_seed(cfg.seed + dist_ctx.rank)  # dropout stream (per rank)
        if train_data is None:
            train_data = load_dataset(config_to_dict(cfg.data), "train", load_features=True)
        if train_data.features is None:
            raise ValueError("pre-training needs image features (or raw images with image_encoder=...)")
        valid = train_data.valid_location_mask()
        if not bool(valid.all()):
            train_data = train_data.subset(torch.nonzero(valid).flatten())
        loc_enc = loc_encoder if loc_encoder is not None else LocationEncoder(cfg.model_config())
        feature_dim = cfg.feature_dim or (train_data.feature_dim if image_encoder is None else 0)
        if image_encoder is not None and not feature_dim and train_data.features is not None:
            with torch.no_grad():
                image_encoder.eval()
                feature_dim = int(image_encoder(train_data.features[:1]).flatten(1).shape[1])
        model = ImageLocationModel(loc_enc, feature_dim, bias=cfg.image_proj_bias, image_encoder=image_encoder,
                                   mse=cfg.loss == "mse", proj_hidden=cfg.image_proj_hidden).to(device)
        optimizer = make_adam([p for p in model.parameters() if p.requires_grad], cfg.lr, cfg.weight_decay)
        run_model, swapped = prepare_run_model(model, cfg, device, dist_ctx)
        tensors = _place(train_data, device, cfg.data.data_on_device)
        neg_sampler = build_negative_sampler(cfg.neg_sampler, locations=tensors["locations"], jitter=cfg.neg_jitter,
                                             bbox=cfg.neg_bbox)
        neg_gen = torch.Generator(device=device).manual_seed(cfg.seed + 104_729)
        step = build_pretrain_step(cfg, run_model, tensors, device, dist_ctx, neg_sampler, neg_gen)
        loop = TrainLoop(config=cfg, model=run_model, state_module=model, optimizer=optimizer,
                         epoch_order=make_epoch_order(train_data, cfg), step_fn=step, device=device,
                         dist_ctx=dist_ctx, generators={"negatives": neg_gen}, callbacks=callbacks)
        try:
            summary = loop.run()
        finally:
            restore_dropout(swapped)
        out = Path(cfg.output_dir)
        if dist_ctx.is_main:
            loc_enc.save_pretrained(out / "model")
        dist_ctx.barrier()
        return PretrainResult(model=model, encoder=loc_enc, output_dir=out, summary=summary)
    finally:
        dist_ctx.close()
