"""The training loop: epochs of index batches -> step -> backward -> optimizer, deterministic and exactly resumable.

The loop's state is:

* the model, optimizer (and fp16 GradScaler) state;
* the epoch and the number of index batches already done in it: the epoch order itself is a
  pure function of (seed, epoch), so the sampler position is just that pair;
* every random stream the step uses: torch's global CPU (and CUDA) generators, which drive
  dropout, of every rank, plus the named ``torch.Generator`` objects the step owns (negatives).

Checkpoints are written atomically (``geoloc_embed.io.atomic_path``) every ``checkpoint_every``
steps and at the end; ``resume=True`` restores all of it and continues bit-for-bit (for a given
precision: a bf16 run resumes exactly as bf16).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..errors import WeightsError
from ..io import atomic_path, atomic_write_text, check_layout, layout_of
from .checkpoint import (
    CHECKPOINT_NAME,
    RESUME_HINT,
    CheckpointError,
    load_checkpoint,
    rng_state,
    set_rng_state,
)
from .config import config_to_dict
from .devices import autocast, resolve_amp
from .distributed import DistContext
from .metrics import MetricsLogger

__all__ = ["StopTraining", "StepFn", "TrainLoop"]

logger = logging.getLogger("geoloc_embed.trainer")


class StopTraining(Exception):
    """Raise from a callback to stop the loop cleanly (a checkpoint is written)."""


StepFn = Callable[[Tensor, int], Any]  # (rank-local index batch, epoch) -> LossTerms-like


@dataclass
class TrainLoop:
    """Epochs of index batches -> ``step_fn`` -> backward -> optimizer, with resumable state.

    Args:
        config: the run config (``PretrainConfig``/``FinetuneConfig``), saved in checkpoints.
        model: the module whose parameters are trained (possibly DDP-wrapped / compiled);
            ``state_module`` is the plain module whose state_dict is saved.
        optimizer: the optimizer; ``lr_at_epoch`` (optional) sets every group's LR at epoch start.
        epoch_order: epoch -> 1-D CPU LongTensor of global row indices for that epoch.
        step_fn: (rank-local LongTensor of row indices, epoch) -> an object with ``.total``
            (loss to minimise) and optionally ``.as_dict()``.
        generators: named random streams owned by ``step_fn`` (saved/restored).
        extra_state: callables to put (and restore) more state in the checkpoint.
        callbacks: ``cb(loop, event, info)`` for events "step_end", "epoch_end"; raise
            ``StopTraining`` to stop cleanly, anything else aborts (as a crash would).
        epoch_end: optional ``fn(epoch) -> dict`` run on every rank after each epoch (evaluation).
    """

    config: Any
    model: nn.Module
    state_module: nn.Module
    optimizer: torch.optim.Optimizer
    epoch_order: Callable[[int], Tensor]
    step_fn: StepFn
    device: torch.device
    dist_ctx: DistContext = field(default_factory=DistContext)
    generators: dict = field(default_factory=dict)
    lr_at_epoch: Optional[Callable[[int], float]] = None
    callbacks: Sequence[Callable[..., Any]] = ()
    epoch_end: Optional[Callable[[int], Optional[dict]]] = None
    extra_state: dict = field(default_factory=dict)
    samples_per_step: Optional[Callable[[Tensor], int]] = None

    def __post_init__(self) -> None:
        self.output_dir = Path(self.config.output_dir)
        self.epoch = 0
        self.batch_in_epoch = 0
        self.global_step = 0
        self.finished = False
        self.history: list[dict] = []
        self.amp = resolve_amp(self.device, self.config.amp)  # the precision the step really runs in
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == "fp16" else None
        self.metrics = MetricsLogger(self.output_dir, enabled=self.dist_ctx.is_main)
        self.checkpoint_path = self.output_dir / CHECKPOINT_NAME

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        rng = rng_state()
        if self.dist_ctx.enabled:
            gathered: list[Any] = [None] * self.dist_ctx.world_size
            dist.all_gather_object(gathered, {k: v.cpu() for k, v in rng.items()})
            rng_all = gathered
        else:
            rng_all = [rng]
        return {
            "format": "geoloc_embed.trainer/1",
            "kind": type(self.config).__name__,
            "config": config_to_dict(self.config),
            "model": {k: v.detach().cpu() for k, v in self.state_module.state_dict().items()},
            "param_names": [n for n, _ in self.state_module.named_parameters()],
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "global_step": self.global_step,
            "finished": self.finished,
            "rng": rng_all,
            "generators": {k: g.get_state() for k, g in self.generators.items()},
            "extra": {k: get() for k, (get, _set) in self.extra_state.items()},
        }

    def save_checkpoint(self) -> None:
        state = self.state_dict()  # collective under DDP: every rank calls it
        if self.dist_ctx.is_main:
            with atomic_path(self.checkpoint_path) as tmp:
                torch.save(state, tmp)
            atomic_write_text(self.output_dir / "train_config.json",
                              json.dumps(config_to_dict(self.config), indent=2) + "\n")
        self.dist_ctx.barrier()

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned (a checked ``load_checkpoint`` dict).

        Raises ``CheckpointError`` (naming ``checkpoint_path``) when the state belongs to another
        kind of run or does not fit this run's model and optimizer; nothing is restored then
        except what came before the failing entry.
        """
        kind = state.get("kind")
        if kind != type(self.config).__name__:
            raise self._mismatch(f"was written by a {kind} run, not a {type(self.config).__name__} run")
        try:
            check_layout(layout_of(state["model"]), layout_of(self.state_module.state_dict()), "its model state",
                         config_hint="The architecture or the data's feature/class count changed.")
        except WeightsError as exc:
            raise self._mismatch(f"does not fit this run's model: {exc}") from None
        self.state_module.load_state_dict(state["model"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scaler is not None and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
        except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
            raise self._mismatch(f"has an optimizer state that does not fit this run's parameters ({exc})") from None
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.global_step = int(state["global_step"])
        self.finished = bool(state.get("finished", False))
        rngs = state["rng"]
        if len(rngs) != self.dist_ctx.world_size:
            logger.warning("checkpoint was written by %d rank(s), resuming on %d: dropout streams differ",
                           len(rngs), self.dist_ctx.world_size)
        try:
            set_rng_state(rngs[min(self.dist_ctx.rank, len(rngs) - 1)])
            for name, gen_state in state.get("generators", {}).items():
                if name in self.generators:
                    self.generators[name].set_state(gen_state.to(self.generators[name].get_state().device))
        except RuntimeError as exc:
            raise self._mismatch(f"has an invalid random-generator state ({str(exc).splitlines()[0]})") from None
        for name, value in state.get("extra", {}).items():
            if name in self.extra_state:
                self.extra_state[name][1](value)

    def _mismatch(self, problem: str) -> CheckpointError:
        return CheckpointError(f"trainer checkpoint {self.checkpoint_path}: {problem}; {RESUME_HINT}")

    def try_resume(self) -> bool:
        """Restore ``output_dir/checkpoint.pt`` when it exists (True), else start from scratch (False).

        Raises ``CheckpointError`` for a file that cannot be resumed from (see ``load_checkpoint``).
        """
        if not self.checkpoint_path.is_file():
            logger.info("resume requested but %s does not exist: starting from scratch", self.checkpoint_path)
            return False
        state = load_checkpoint(self.checkpoint_path)
        old = state.get("config", {})
        new = config_to_dict(self.config)
        ignore = {"resume", "max_steps", "progress", "output_dir", "device", "checkpoint_every", "log_every",
                  "epochs"}
        changed = sorted(k for k in new if k not in ignore and old.get(k) != new.get(k))
        if changed:
            logger.warning("resuming with changed config fields %s: the run will not match an uninterrupted one",
                           changed)
        self.load_state(state)
        logger.info("resumed from %s at epoch %d, batch %d, step %d", self.checkpoint_path, self.epoch,
                    self.batch_in_epoch, self.global_step)
        return True

    # ------------------------------------------------------------------ running
    def _local_batch(self, global_idx: Tensor) -> Tensor:
        w = self.dist_ctx.world_size
        if w == 1:
            return global_idx
        usable = global_idx.shape[0] // w * w
        return global_idx[:usable].view(w, -1)[self.dist_ctx.rank]

    def _num_batches(self, n: int) -> int:
        bs = self.config.batch_size
        nb = n // bs if self.config.drop_last else math.ceil(n / bs)
        if self.dist_ctx.enabled:  # a last batch smaller than the world size is dropped
            nb = sum(1 for b in range(nb) if min(bs, n - b * bs) >= self.dist_ctx.world_size)
        return nb

    def _optimizer_step(self, loss: Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()

    def run(self) -> dict[str, Any]:
        cfg = self.config
        if self.dist_ctx.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.output_dir / "train_config.json",
                              json.dumps(config_to_dict(cfg), indent=2) + "\n")
        if cfg.resume:
            self.try_resume()
        if self.finished and self.epoch >= cfg.epochs:
            return {"global_step": self.global_step, "epoch": self.epoch, "resumed_finished": True}
        bar = None
        stop = False
        last_terms: dict[str, float] = {}
        self.model.train()
        try:
            while self.epoch < cfg.epochs and not stop:
                epoch = self.epoch
                order = self.epoch_order(epoch)
                nb = self._num_batches(order.shape[0])
                if self.lr_at_epoch is not None:
                    lr = self.lr_at_epoch(epoch)
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr
                if cfg.progress and self.dist_ctx.is_main:
                    from tqdm.auto import tqdm

                    bar = tqdm(total=nb, initial=self.batch_in_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                               leave=False, dynamic_ncols=True)
                running = torch.zeros((), device=self.device)
                count = 0
                t0 = time.perf_counter()
                samples = 0
                while self.batch_in_epoch < nb:
                    b = self.batch_in_epoch
                    global_idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                    idx = self._local_batch(global_idx)
                    with autocast(self.device, self.amp):
                        terms = self.step_fn(idx, epoch)
                    loss = terms.total if hasattr(terms, "total") else terms
                    self._optimizer_step(loss.float())
                    running += loss.detach().float()
                    count += 1
                    samples += global_idx.shape[0]
                    self.batch_in_epoch += 1
                    self.global_step += 1
                    if bar is not None:
                        bar.update(1)
                    if cfg.log_every and self.global_step % cfg.log_every == 0:
                        last_terms = terms.as_dict() if hasattr(terms, "as_dict") else {"loss": float(loss)}
                        dt = time.perf_counter() - t0
                        rec = {"step": self.global_step, "epoch": epoch, "lr": self.optimizer.param_groups[0]["lr"],
                               **last_terms, "samples_per_s": samples / dt if dt > 0 else float("nan")}
                        self.metrics.log(rec)
                        if bar is not None:
                            bar.set_postfix(loss=f"{last_terms.get('loss', float('nan')):.4f}")
                    if cfg.checkpoint_every and self.global_step % cfg.checkpoint_every == 0:
                        self.save_checkpoint()
                    try:
                        for cb in self.callbacks:
                            cb(self, "step_end", {"terms": terms, "epoch": epoch})
                    except StopTraining:
                        stop = True
                    if cfg.max_steps and self.global_step >= cfg.max_steps:
                        stop = True
                    if stop:
                        break
                if bar is not None:
                    bar.close()
                    bar = None
                epoch_done = self.batch_in_epoch >= nb
                mean_loss = float(running / max(count, 1))
                if self.dist_ctx.enabled:
                    t = torch.tensor([mean_loss], device=self.device)
                    dist.all_reduce(t)
                    mean_loss = float(t) / self.dist_ctx.world_size
                if epoch_done:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    record = {"epoch": epoch, "step": self.global_step, "epoch_loss": mean_loss,
                              "epoch_time_s": time.perf_counter() - t0}
                    if self.epoch_end is not None:
                        extra = self.epoch_end(epoch)
                        if extra:
                            record.update(extra)
                        self.model.train()
                    self.history.append(record)
                    self.metrics.log({"event": "epoch_end", **record}, csv_row=False)
                    try:
                        for cb in self.callbacks:
                            cb(self, "epoch_end", record)
                    except StopTraining:
                        stop = True
            self.finished = self.epoch >= cfg.epochs
            self.save_checkpoint()
        finally:
            if bar is not None:
                bar.close()
        return {"global_step": self.global_step, "epoch": self.epoch, "history": self.history,
                "finished": self.finished, "last": last_terms}
