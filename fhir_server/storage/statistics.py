"""Planner statistics kept fresh by the server itself (PostgreSQL).

PostgreSQL plans a search from its statistics of the tables: whether to start a patient's
date-sorted Observations from the patient's index rows or from the date order depends on how many
rows it believes each side has. Autovacuum keeps those statistics fresh, but clusters run without
it too (autovacuum = off is common on CI and benchmark machines), and there a database that grew
from empty keeps the statistics of its first minutes: the planner believes the tables hold a row
or two, and a search for 20 Observations of one patient walks every date row of every patient
(114 ms at 30,000 Observations instead of under 1 ms).

The keeper applies autovacuum's own analyze rule to the server's tables: a table whose rows changed
since it was last analyzed by more than `50 + 10%` of the rows it had then is analyzed again. It
looks every `interval` seconds; the processes of one database take turns through an advisory lock,
so one of them analyzes. Where autovacuum runs, it has usually analyzed the table first and the
keeper finds nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

__all__ = ["StatisticsKeeper", "stale_tables", "analyze_stale"]

log = logging.getLogger("fhir_server.statistics")

# autovacuum's defaults: autovacuum_analyze_threshold, autovacuum_analyze_scale_factor
_THRESHOLD, _SCALE = 50, 0.1
_STALE = (
    "SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.n_mod_since_analyze > $1 + $2 * greatest(c.reltuples, 0) "
    "ORDER BY s.relname"
)
_LOCK_KEY = 0x5F535441545300  # the keeper's advisory lock, one per database
_TRY_LOCK = "SELECT pg_try_advisory_lock($1)"
_UNLOCK = "SELECT pg_advisory_unlock($1)"


async def stale_tables(conn: Any) -> list[str]:
    """The tables (of the connection's schema) whose statistics autovacuum's rule says to refresh."""
    return [row[0] for row in await conn.fetch(_STALE, _THRESHOLD, _SCALE)]


async def analyze_stale(conn: Any) -> list[str]:
    """ANALYZE every stale table, unless another process is doing so; the tables analyzed."""
    if not await conn.fetchval(_TRY_LOCK, _LOCK_KEY):
        return []
    try:
        tables = await stale_tables(conn)
        for table in tables:
            await conn.execute(f'ANALYZE "{table}"')
        return tables
    finally:
        await conn.fetchval(_UNLOCK, _LOCK_KEY)


class StatisticsKeeper:
    """Runs `analyze_stale` every `interval` seconds on a connection of `pool` (an asyncpg pool) until `close`."""

    def __init__(self, pool: Any, interval: float) -> None:
        self.pool = pool
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="statistics-keeper")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                async with self.pool.acquire() as conn:
                    analyzed = await analyze_stale(conn)
                if analyzed:
                    log.info("analyzed %s: their rows changed by more than 10%% since the last analysis",
                             ", ".join(analyzed))
            except Exception as exc:  # the database is away for a moment: the next look catches up
                log.warning("could not refresh the planner's statistics: %s", exc)
