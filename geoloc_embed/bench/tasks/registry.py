"""The registry of benchmark tasks: tasks by name, in suite order, and task selections."""

from __future__ import annotations

import difflib
from typing import Callable, Sequence

from .base import Task

__all__ = ["register_task", "get_task", "list_tasks", "resolve_tasks", "TaskFactory"]

TaskFactory = Callable[[], Task]

_TASKS: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its ``name``."""
    if cls.name in _TASKS:
        raise ValueError(f"benchmark task {cls.name!r} is already registered")
    _TASKS[cls.name] = cls
    return cls


def list_tasks() -> list[str]:
    """Names of every registered task, in registration (suite) order."""
    return list(_TASKS)


def get_task(name: str) -> Task:
    """A fresh instance of the task called ``name``."""
    try:
        return _TASKS[name]()
    except KeyError:
        close = difflib.get_close_matches(name, list(_TASKS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown benchmark task {name!r}{hint} Known tasks: {', '.join(_TASKS)}") from None


def resolve_tasks(spec: str | Sequence[str]) -> list[str]:
    """Task names from "all", a comma-separated string or a list (order preserved, duplicates dropped)."""
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",") if s.strip()]
    else:
        items = [s for item in spec for s in str(item).split(",") if s.strip()]
    out: list[str] = []
    for item in items:
        names = list_tasks() if item == "all" else [item]
        for name in names:
            if name not in _TASKS:
                get_task(name)  # raises with suggestions
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError("no benchmark tasks selected; use --tasks all or a comma-separated list")
    return out
