"""The knobs of bulk export, with the defaults the composition root uses.

Slices bound how long one job holds its transaction (on SQLite, the write lock) and how much it
writes before committing; batches bound what is in memory at once (rows and bytes of bodies).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["BulkConfig"]

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BulkConfig:
    root: Path  # export files: root/<export id>/<Type>-<n>.ndjson
    secret_file: Path  # the pseudonym secret of de-identified exports
    slice_seconds: float = 1.0
    slice_bytes: int = 64 * MIB
    batch_rows: int = 2000
    batch_bytes: int = 8 * MIB
    max_file_bytes: int = 1024 * MIB
    retention_seconds: int = 24 * 3600  # files and status are kept this long after completion
    retry_after: int = 2  # seconds a client is told to wait between polls
    poll_min_interval: float = 1.0  # polling faster than this gets 429

    @classmethod
    def in_data_dir(cls, data_dir: Path, **overrides: object) -> BulkConfig:
        return cls(root=data_dir / "exports", secret_file=data_dir / "deidentify.key", **overrides)  # type: ignore[arg-type]
