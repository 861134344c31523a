"""What an import reads: NDJSON files, directories of them, and Bundle JSON files, as a stream of
records (a line, or a Bundle entry) each with its number and the byte offset just after it.

Records are read from a byte offset, so an import resumes where its last committed batch ended.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fhir_server.importer.bundle_stream import BundleScan, scan_bundle

__all__ = ["Source", "Record", "find_sources", "read_records", "fingerprint", "NDJSON", "BUNDLE",
           "SourceError"]

NDJSON, BUNDLE = "ndjson", "bundle"
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
BUNDLE_SUFFIXES = (".json",)


class SourceError(Exception):
    """A path cannot be imported (missing, unreadable, of a kind the importer does not read)."""


@dataclass(frozen=True, slots=True)
class Source:
    path: Path
    kind: str  # ndjson | bundle
    size: int

    @property
    def name(self) -> str:
        return str(self.path)


@dataclass(frozen=True, slots=True)
class Record:
    """One line of an NDJSON file or one entry of a Bundle: `number` counts from 1, `end` is the
    byte offset just after it (where a resumed import starts)."""

    number: int
    end: int
    data: bytes


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(NDJSON_SUFFIXES):
        return NDJSON
    if name.endswith(BUNDLE_SUFFIXES):
        return BUNDLE
    return None


def find_sources(paths: Iterable[Path | str]) -> list[Source]:
    """The files to import, in a stable order: each file named, and each directory's NDJSON and
    JSON files (recursively, sorted by path)."""
    found: list[Source] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p) is not None)
            found.extend(Source(p, _kind(p) or NDJSON, p.stat().st_size) for p in files)
        elif path.is_file():
            found.append(Source(path, _kind(path) or NDJSON, path.stat().st_size))
        else:
            raise SourceError(f"{path}: no such file or directory")
    return found


def fingerprint(source: Source) -> int:
    """A 62-bit digest of the file's first 4 KiB: a checkpoint applies only to the file it was
    taken on (appending to an NDJSON file keeps its fingerprint)."""
    with source.path.open("rb") as handle:
        head = handle.read(4096)
    return int.from_bytes(hashlib.sha256(head).digest()[:8], "big") >> 2


def read_records(source: Source, *, offset: int = 0, number: int = 0, scan: BundleScan | None = None
                 ) -> Iterator[Record]:
    """Records after `offset` (the `number`th record ended there); blank lines are skipped."""
    with source.path.open("rb") as handle:
        if source.kind == BUNDLE:
            for _, end, data in scan_bundle(handle, start=offset, scan=scan):
                number += 1
                yield Record(number, end, data)
            return
        handle.seek(offset)
        position = offset
        for line in handle:
            position += len(line)
            number += 1
            if line.strip():
                yield Record(number, position, line)
