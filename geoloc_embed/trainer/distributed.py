"""Data-parallel runs under ``torchrun``: the process-group context and a gradient-carrying all-gather."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from .devices import resolve_device

__all__ = ["DistContext", "init_distributed", "gather_with_grad"]


@dataclass
class DistContext:
    """This process's place in the run: ``rank`` of ``world_size`` (``local_rank`` on its node).

    ``initialized_here``: this context created the process group, so ``close`` destroys it.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.initialized_here and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device_name: str = "auto") -> DistContext:
    """Join the process group torchrun describes (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_*), if any.

    Backend: NCCL when the run uses CUDA, gloo otherwise. Without torchrun variables this is a
    single-process context.
    """
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = resolve_device(device_name, local_rank).type == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return DistContext(rank, world, local_rank, initialized_here=True)


def gather_with_grad(x: Tensor, ctx: DistContext) -> Tensor:
    """(N, ...) on every rank -> (world_size * N, ...) in rank order, gradients flowing back to each rank."""
    if not ctx.enabled:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)
