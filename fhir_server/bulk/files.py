"""The NDJSON files of exports, one directory per export under the data directory.

A slice appends to a file only after cutting it back to the size the committed state records, so
lines written by a slice that never committed disappear; a file the slice creates is created empty.
At the end of a slice every file it wrote is flushed and fsynced (and the directory, for new files)
before the state that counts those bytes commits.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO

from fhir_server.bulk.progress import FileEntry
from fhir_server.errors import NotFound

__all__ = ["ExportFiles", "SliceFiles"]

_NAME = re.compile(r"[A-Za-z]+-(?:deleted-)?\d+\.ndjson")
_EXPORT_ID = re.compile(r"[0-9a-f]{32}")


class ExportFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def directory(self, export_id: str) -> Path:
        if not _EXPORT_ID.fullmatch(export_id):
            raise NotFound(f"no export '{export_id}'")
        return self.root / export_id

    def path(self, export_id: str, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise NotFound(f"export {export_id} has no file '{name}'")
        return self.directory(export_id) / name

    def remove(self, export_id: str) -> None:
        shutil.rmtree(self.directory(export_id), ignore_errors=True)

    def slice(self, export_id: str) -> SliceFiles:
        return SliceFiles(self.directory(export_id))


class SliceFiles:
    """The files one slice writes to: opened on first use, synced and closed by `sync()`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._handles: dict[str, BinaryIO] = {}
        self._created = False

    def append(self, entry: FileEntry, data: bytes, *, created: bool) -> None:
        handle = self._handles.get(entry.name)
        if handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / entry.name
            if created or not path.exists():
                handle = open(path, "wb")  # noqa: SIM115 - kept open for the slice, closed in sync()
                self._created = True
            else:
                handle = open(path, "r+b")  # noqa: SIM115
                handle.truncate(entry.bytes)
                handle.seek(entry.bytes)
            self._handles[entry.name] = handle
        handle.write(data)

    def sync(self) -> None:
        for handle in self._handles.values():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        self._handles.clear()
        if self._created:
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._created = False

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
