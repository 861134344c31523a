"""Table upkeep by the server itself, where the PostgreSQL cluster runs without autovacuum.

Autovacuum keeps two things in order that the server's speed depends on. The planner's statistics:
whether to start a patient's date-sorted Observations from the patient's index rows or from the
date order depends on how many rows the planner believes each side has, and a database that grew
from empty without them keeps the statistics of its first minutes (a search for 20 Observations of
one patient then walks every date row of every patient: 114 ms at 30,000 Observations instead of
under 1 ms). And dead rows: every update replaces a resource's index rows, and the dead ones left
at the end of the indexes make each plan slower to make and each index scan longer.

Clusters do run without it (autovacuum = off is common on CI and benchmark machines). There the
keeper applies autovacuum's own rules to the server's tables: a table with more dead rows than
50 + 20% of its rows is vacuumed and analyzed, one whose rows changed by more than 50 + 10% since
its last analysis is analyzed. It looks every `interval` seconds (FHIR_DATABASE_ANALYZE_SECONDS),
in one process per database: the first to take an advisory lock keeps it. Where autovacuum is on,
the keeper leaves the tables to it.

Upkeep takes at most a tenth of one connection's time: after a round that took t seconds the keeper
looks again no sooner than 9t later. When every process kept its own rounds (taking turns through
the lock), a database served by several processes had that much upkeep per process: under the HL7
gateway's two listener processes, ANALYZE took nearly half the database's CPU time. Under a steady
stream of writes every table is due at every look, and ANALYZE samples up to 75,000 rows per table
whatever its size, so at a million resources a round takes seconds; looking every 30 s regardless, the keeper took a fifth of the database's CPU time
during a bulk import (0.293 against 0.230 ms per resource without it). The small tables of a new
database are analyzed in milliseconds, so their statistics still follow within `interval`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg

from fhir_server.background import stop

__all__ = ["StatisticsKeeper", "due_tables", "maintain", "pause"]

log = logging.getLogger("fhir_server.statistics")

# autovacuum's defaults: autovacuum_vacuum_threshold and _scale_factor, autovacuum_analyze_threshold and _scale_factor
_VACUUM_THRESHOLD, _VACUUM_SCALE = 50, 0.2
_ANALYZE_THRESHOLD, _ANALYZE_SCALE = 50, 0.1
_DUE = (
    "SELECT s.relname, s.n_dead_tup > $1 + $2 * greatest(c.reltuples, 0) AS vacuum "
    "FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND (s.n_dead_tup > $1 + $2 * greatest(c.reltuples, 0) "
    "OR s.n_mod_since_analyze > $3 + $4 * greatest(c.reltuples, 0)) ORDER BY s.relname"
)
_AUTOVACUUM_ON = "SELECT current_setting('autovacuum') = 'on'"
_LOCK_KEY = 0x5F535441545300  # the keeper's advisory lock, one per database
_REST = 9  # seconds of rest per second of upkeep: at most a tenth of the keeper's connection's time
_TRY_LOCK = "SELECT pg_try_advisory_lock($1)"


async def due_tables(conn: Any) -> dict[str, str]:
    """The tables (of the connection's schema) autovacuum's rules say to vacuum or to analyze: name -> "vacuum"
    (dead rows over 50 + 20% of the rows at the last analysis; vacuumed and analyzed) or "analyze" (rows
    changed over 50 + 10%)."""
    rows = await conn.fetch(_DUE, _VACUUM_THRESHOLD, _VACUUM_SCALE, _ANALYZE_THRESHOLD, _ANALYZE_SCALE)
    return {name: "vacuum" if vacuum else "analyze" for name, vacuum in rows}


async def maintain(conn: Any) -> dict[str, str]:
    """Vacuum or analyze every table due; what was done to which table."""
    due = await due_tables(conn)
    for table, action in due.items():
        await conn.execute(f'VACUUM (ANALYZE) "{table}"' if action == "vacuum" else f'ANALYZE "{table}"')
    return due


def pause(interval: float, took: float) -> float:
    """Seconds until the next look, after a round of upkeep that took `took` seconds."""
    return max(interval, _REST * took)


class StatisticsKeeper:
    """Keeps the tables of the database at `dsn` in order until `close`, when the cluster's autovacuum is off.

    One process per database does the upkeep, so that its rest (`pause`) bounds the database's upkeep,
    not each process's: every process of a database runs a keeper, and the first to take the upkeep
    lock keeps it, on a connection of its own, for as long as it runs. The others look every
    `interval` seconds whether the lock is free, so one of them takes over when its holder stops (the
    lock goes with the holder's connection)."""

    def __init__(self, dsn: str, interval: float) -> None:
        self.dsn = dsn
        self.interval = interval
        self.leading = False
        """This process's keeper holds the upkeep lock."""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="statistics-keeper")

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop(task)

    async def _run(self) -> None:
        autovacuum: bool | None = None  # asked at the first look, not at start-up
        while True:
            await asyncio.sleep(self.interval)
            conn = None
            try:
                conn = await asyncpg.connect(self.dsn)
                if autovacuum is None:
                    autovacuum = bool(await conn.fetchval(_AUTOVACUUM_ON))
                    if autovacuum:
                        return  # the cluster's autovacuum does it
                    log.info("autovacuum is off in this PostgreSQL cluster: the server vacuums and "
                             "analyzes its tables itself")
                if await conn.fetchval(_TRY_LOCK, _LOCK_KEY):
                    await self._lead(conn)
            except Exception as exc:  # the database is away for a moment: the next look catches up
                log.warning("could not vacuum or analyze the server's tables: %s", exc)
            finally:
                self.leading = False
                if conn is not None:
                    conn.terminate()  # and the lock with it, if held

    async def _lead(self, conn: Any) -> None:
        """Rounds of upkeep on `conn`, which holds the upkeep lock, until cancelled or the connection fails."""
        self.leading = True
        while True:
            started = time.monotonic()
            done = await maintain(conn)
            if done:
                log.info("table upkeep: %s", ", ".join(f"{action} {table}" for table, action in done.items()))
            await asyncio.sleep(pause(self.interval, time.monotonic() - started))
