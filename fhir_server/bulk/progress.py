"""The committed progress of an export (the `state` column of `bulk_exports`), as JSON.

    types       the resource types to export, in order (fixed by the first slice)
    type_index  the type being exported; cursor  (last_updated, pk) of the last version written
    files       every file with its type, kind (output | deleted | error), resource count and size
                in bytes as committed: a file's bytes past `bytes` were written by a slice that did
                not commit, and are cut off before the next slice appends
    job         the job that runs the next slice (to tell a failed export from a waiting one)

A slice changes a copy of the state in memory and stores it in the same transaction as its job's
completion and the next job, so what the database says is always what the files hold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FileEntry", "ExportState", "OUTPUT", "DELETED", "ERROR"]

OUTPUT, DELETED, ERROR = "output", "deleted", "error"


@dataclass(slots=True)
class FileEntry:
    name: str
    type: str
    kind: str
    count: int = 0
    bytes: int = 0
    closed: bool = False


@dataclass(slots=True)
class ExportState:
    types: list[str] | None = None
    type_index: int = 0
    cursor: tuple[int, int] | None = None
    files: list[FileEntry] = field(default_factory=list)
    exported: int = 0
    deleted: int = 0
    errors: int = 0
    estimate: int | None = None
    job: int | None = None
    notes_written: bool = False

    @property
    def current_type(self) -> str | None:
        if self.types is None or self.type_index >= len(self.types):
            return None
        return self.types[self.type_index]

    @property
    def finished(self) -> bool:
        return self.types is not None and self.type_index >= len(self.types)

    def open_file(self, kind: str, res_type: str) -> FileEntry | None:
        for entry in reversed(self.files):
            if entry.kind == kind and entry.type == res_type and not entry.closed:
                return entry
        return None

    def new_file(self, kind: str, res_type: str) -> FileEntry:
        number = sum(1 for entry in self.files if entry.kind == kind and entry.type == res_type) + 1
        name = {OUTPUT: f"{res_type}-{number}.ndjson", DELETED: f"{res_type}-deleted-{number}.ndjson",
                ERROR: f"OperationOutcome-{number}.ndjson"}[kind]
        entry = FileEntry(name, res_type, kind)
        self.files.append(entry)
        return entry

    def close_files(self, res_type: str) -> None:
        for entry in self.files:
            if entry.type == res_type:
                entry.closed = True

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["cursor"] = list(self.cursor) if self.cursor is not None else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportState:
        cursor = data.get("cursor")
        return cls(
            types=data.get("types"), type_index=data.get("type_index", 0),
            cursor=(int(cursor[0]), int(cursor[1])) if cursor else None,
            files=[FileEntry(**entry) for entry in data.get("files", [])],
            exported=data.get("exported", 0), deleted=data.get("deleted", 0), errors=data.get("errors", 0),
            estimate=data.get("estimate"), job=data.get("job"), notes_written=data.get("notes_written", False),
        )
