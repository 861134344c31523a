"""`fhir-server import` and `fhir-server demo`: loading data in bulk.

    fhir-server import PATH... [--batch-size 2500] [--workers N] [--restart] [--rejects FILE]
    fhir-server demo [--patients 100] [--seed 7] [--out DIR]

Both run the importer (`fhir_server.importer`) against the configured database: the same validation,
indexing, versioning and encryption as the REST API, many resources per transaction, resumable.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import click
import orjson

from fhir_server.cli.common import fail, load_settings, prepare
from fhir_server.long_lived import freeze_startup_heap, run_service

__all__ = ["import_command", "demo"]


class _Display:
    """The progress bar (bytes read, with ETA) and its text: resources written and their rate."""

    def __init__(self, bar: Any, timeline: TextIO | None) -> None:
        self.bar = bar
        self.started = time.monotonic()
        self.written = 0
        self.timeline = timeline

    def progress(self, read: int, written: int) -> None:
        self.written += written
        if self.timeline is not None and written:
            self.timeline.write(f"{time.monotonic() - self.started:.3f} {self.written}\n")
        self.bar.update(read, self.written)

    def show(self, written: int | None) -> str:
        if written is None:
            return ""
        rate = written / max(time.monotonic() - self.started, 1e-6)
        return f"{written:,} resources, {rate:,.0f}/s"


class _Rejects:
    """Rejected records as NDJSON: {"file", "line", "outcome"}; the file is created on the first one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._handle: Any = None

    def __call__(self, file: str, number: int, outcome: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("ab")
        self._handle.write(orjson.dumps({"file": file, "line": number, "outcome": outcome}) + b"\n")
        self._handle.flush()
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def run_import(paths: list[Path], *, batch_size: int | None, workers: int, restart: bool, rejects_path: Path | None,
               show_progress: bool, timeline: Path | None = None, scope: str = "cli") -> None:
    """Load `paths` into the configured database and print a report (shared by `import` and `demo`)."""
    from fhir_server.importer import Importer, SourceError, find_sources, staging_pool
    from fhir_server.importer.loader import BATCH_SIZE

    settings = load_settings()
    asyncio.run(prepare(settings))
    try:
        sources = find_sources(paths)
    except SourceError as exc:
        fail(str(exc))
    if not sources:
        fail("no NDJSON (.ndjson, .jsonl) or Bundle (.json) files found in " + ", ".join(map(str, paths)))
    rejects = _Rejects(rejects_path or settings.data_dir / f"import-rejects-{time.strftime('%Y%m%d-%H%M%S')}.ndjson")

    async def run() -> Any:
        from fhir_server.bootstrap import start_runtime
        from fhir_server.context import Principal, RequestContext
        from fhir_server.importer.staging import Stager
        from fhir_server.storage.positions import Positions

        runtime = await start_runtime(settings)
        freeze_startup_heap()  # once, before the staging processes fork (`staging_pool`): they share these pages
        pool = None
        try:
            resources = runtime.services.resources
            pool = staging_pool(workers, Stager(resources.validator, resources.indexer))
            principal = Principal(subject="fhir-server import", role="system", scopes=frozenset({"system/*.write"}),
                                  unrestricted=True)
            importer = Importer(resources, Positions(runtime.store), RequestContext(principal, settings.base_url),
                                batch_size=batch_size or BATCH_SIZE, executor=pool, workers=workers, scope=scope)
            total = sum(source.size for source in sources)
            timeline_handle = timeline.open("w", buffering=1) if timeline is not None else None
            with click.progressbar(length=max(total, 1), label=f"importing {len(sources)} file(s)", file=sys.stderr,
                                   show_eta=True, show_percent=True, width=30,
                                   hidden=not show_progress) as bar:
                display = _Display(bar, timeline_handle)
                bar.item_show_func = display.show
                report = await importer.run(sources, restart=restart, on_progress=display.progress, on_reject=rejects)
            if timeline_handle is not None:
                timeline_handle.close()
            return report
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
            await runtime.close()

    try:
        report = run_service(run())
    finally:
        rejects.close()
    rate = report.written / max(report.seconds, 1e-6)
    click.echo(f"imported {report.written:,} resources ({report.created:,} created, {report.updated:,} updated) "
               f"from {report.files - len(report.skipped)} file(s) in {report.seconds:.1f} s ({rate:,.0f}/s)")
    if report.skipped:
        click.echo(f"skipped {len(report.skipped)} file(s) already imported (use --restart to load them again)")
    if report.rejected:
        click.echo(f"rejected {report.rejected:,} record(s); file, line and OperationOutcome of each in {rejects.path}")


def _default_workers() -> int:
    """One staging process per CPU: staging (validation, indexing) is the CPU-heavy half, while the
    writing process mostly waits for the database."""
    return os.cpu_count() or 2


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--batch-size", default=None, type=click.IntRange(1, 20000),
              help="Resources per transaction (default: the importer's, 2500).")
@click.option("--workers", default=None, type=click.IntRange(0, 64),
              help="Processes validating and indexing ahead of the writer (0: none). Default: one per CPU.")
@click.option("--restart", is_flag=True, help="Ignore checkpoints: load every file from its start.")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where rejected records go (NDJSON). Default: import-rejects-<time>.ndjson in the data dir.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--timeline", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
def import_command(paths: tuple[Path, ...], batch_size: int | None, workers: int | None, restart: bool,
                   rejects_path: Path | None, progress: bool, timeline: Path | None) -> None:
    """Load NDJSON files, directories of them, and Bundle JSON files.

    Resources with an id keep it (update-as-create), the others get a new one. Each batch commits
    atomically with its checkpoint: run the same command again after an interruption and it goes on
    from the last committed batch; files already loaded are skipped.
    """
    run_import(list(paths), batch_size=batch_size, workers=_default_workers() if workers is None else workers,
               restart=restart, rejects_path=rejects_path, show_progress=progress, timeline=timeline)


@click.command()
@click.option("--patients", default=100, show_default=True, type=click.IntRange(1, 1_000_000),
              help="How many patients (about 55 resources each).")
@click.option("--seed", default=7, show_default=True, help="The same seed gives the same data.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Where the generated NDJSON files go. Default: demo-<seed>-<patients> in the data dir.")
@click.option("--workers", default=None, type=click.IntRange(0, 64),
              help="Staging processes, as for `import`. Default: one per CPU.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def demo(patients: int, seed: int, out: Path | None, workers: int | None, progress: bool) -> None:
    """Generate a realistic hospital data set and load it through the importer.

    Practitioners in several departments, patients with inpatient and outpatient encounters (some
    ending in death), vital signs, laboratory results (LOINC, UCUM) and diagnostic reports.
    """
    from fhir_server.demo import generate

    settings = load_settings()
    target = out or settings.data_dir / f"demo-{seed}-{patients}"
    counts = generate(target, patients=patients, seed=seed)
    click.echo(f"generated {sum(counts.values()):,} resources in {target}: "
               + ", ".join(f"{count:,} {name}" for name, count in counts.items()))
    run_import([target], batch_size=None, workers=_default_workers() if workers is None else workers, restart=False,
               rejects_path=None, show_progress=progress, scope="demo")
