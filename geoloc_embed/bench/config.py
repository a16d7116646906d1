"""The benchmark's settings: ``BenchConfig()`` (the full protocol) and ``BenchConfig.quick()`` (CI)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["BenchConfig"]


@dataclass
class BenchConfig:
    """Benchmark settings. ``BenchConfig.quick()`` is the CI configuration."""

    n_points: int = 8000
    seeds: tuple[int, ...] = (0, 1, 2)
    splits: tuple[str, ...] = ("blocked", "random")
    probes: tuple[str, ...] = ("linear", "mlp")
    block_deg: float = 10.0
    val_frac: float = 0.2
    test_frac: float = 0.2
    mlp_hidden: int = 256
    mlp_layers: int = 2
    mlp_max_epochs: int = 100
    mlp_patience: int = 10
    logistic_max_iter: int = 50
    maps: bool = True
    map_task: Optional[str] = None  # default: "temperature" if run, else the first task
    map_res_deg: float = 2.0  # grid of both maps (prediction vs truth, PCA RGB)
    use_cache: bool = True
    progress: bool = True
    batch_size: int = 8192
    #: torch intra-op threads during the run (restored afterwards); 0 leaves torch's setting alone.
    #: One thread is the fastest for the many small probe fits and immune to oversubscription.
    threads: int = 1
    name: str = "full"

    def __post_init__(self) -> None:
        self.seeds = tuple(int(s) for s in self.seeds)
        self.splits = tuple(self.splits)
        self.probes = tuple(self.probes)
        if self.n_points < 50:
            raise ValueError(f"n_points must be at least 50, got {self.n_points}")
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        for s in self.splits:
            if s not in ("blocked", "random"):
                raise ValueError(f"unknown split {s!r}; choose blocked and/or random")
        for p in self.probes:
            if p not in ("linear", "mlp"):
                raise ValueError(f"unknown probe {p!r}; choose linear and/or mlp")
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise ValueError("val_frac and test_frac must be in (0, 1) and sum to less than 1")

    @classmethod
    def quick(cls, **changes: Any) -> "BenchConfig":
        """Few points, one seed, short MLP training, coarse maps: a smoke test / CI configuration."""
        base: dict[str, Any] = dict(n_points=1500, seeds=(0,), mlp_max_epochs=15, mlp_patience=4,
                                    logistic_max_iter=30, map_res_deg=6.0, name="quick")
        base.update(changes)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["seeds"] = list(self.seeds)
        out["splits"] = list(self.splits)
        out["probes"] = list(self.probes)
        return out
