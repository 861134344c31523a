"""`fhir-server worker`: run the background jobs (reindexing, imports, exports, the AI pipeline)."""

from __future__ import annotations

import asyncio
import signal

import click

from fhir_server.cli.common import load_settings, prepare
from fhir_server.long_lived import freeze_startup_heap, run_service

__all__ = ["worker"]


@click.command()
@click.option("--slots", default=2, show_default=True, type=click.IntRange(1, 64), help="Jobs run at once.")
def worker(slots: int) -> None:
    """Run the background job worker until interrupted."""
    from fhir_server.bootstrap import start_runtime

    settings = load_settings()
    asyncio.run(prepare(settings))

    async def run() -> None:
        runtime = await start_runtime(settings)
        freeze_startup_heap()
        job_worker = runtime.worker(slots=slots)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, job_worker.stop)
        woken = ("by PostgreSQL NOTIFY at each commit" if runtime.jobs.wakeups.in_database
                 else "only by jobs queued in this process (SQLite); others at the next poll")
        click.echo(f"worker {job_worker.worker_id} running job kinds: "
                   f"{', '.join(sorted(job_worker.handlers)) or 'none registered'}; woken {woken}", err=True)
        try:
            await job_worker.run()
        finally:
            await runtime.close()

    run_service(run())
