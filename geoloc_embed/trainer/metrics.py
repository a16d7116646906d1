"""Per-step and per-epoch training records: ``metrics.csv`` (step rows) and ``metrics.jsonl`` (everything)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Mapping, Optional

from torch import Tensor

__all__ = ["MetricsLogger"]


class MetricsLogger:
    """Appends step records to ``metrics.csv`` and every record to ``metrics.jsonl`` (main rank).

    The CSV header is the first step record's keys (kept when a resumed run appends); tensors are
    written as floats.
    """

    def __init__(self, output_dir: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.csv_path = output_dir / "metrics.csv"
        self.jsonl_path = output_dir / "metrics.jsonl"
        self._fields: Optional[list[str]] = None
        if enabled and self.csv_path.exists():
            with open(self.csv_path, newline="") as fh:
                header = fh.readline().strip()
            self._fields = header.split(",") if header else None

    def log(self, record: Mapping[str, Any], csv_row: bool = True) -> None:
        if not self.enabled:
            return
        record = {k: (float(v) if isinstance(v, Tensor) else v) for k, v in record.items()}
        with open(self.jsonl_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if not csv_row:
            return
        if self._fields is None:
            self._fields = list(record)
            with open(self.csv_path, "w", newline="") as fh:
                csv.writer(fh).writerow(self._fields)
        with open(self.csv_path, "a", newline="") as fh:
            csv.writer(fh).writerow([record.get(k, "") for k in self._fields])
