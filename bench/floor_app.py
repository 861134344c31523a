"""The floor for the REST benchmark: the least an ASGI app can do to answer a FHIR read.

It runs the same primary-key SELECT as the server (raw asyncpg, no ORM) and returns the same bytes
(taken from a map loaded at start, so no decryption or JSON work is counted). Our read throughput
is reported as a ratio to this app's, measured in the same run on the same machine.

Environment: BENCH_DATABASE_URL (postgresql://...), BENCH_BODIES (JSON file: id -> resource JSON).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import asyncpg

STATE: dict[str, Any] = {}
SELECT = "SELECT version_id, body FROM resources WHERE res_type = $1 AND res_id = $2"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                STATE["pool"] = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=4, max_size=20)
                bodies = json.loads(Path(os.environ["BENCH_BODIES"]).read_text())  # noqa: ASYNC240 - start-up only
                STATE["bodies"] = {k: v.encode() for k, v in bodies.items()}
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await STATE["pool"].close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    res_type, _, res_id = scope["path"].strip("/").partition("/")
    row = await STATE["pool"].fetchrow(SELECT, res_type, res_id)
    if row is None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = STATE["bodies"][res_id]
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/fhir+json; charset=utf-8"),
        (b"etag", f'W/"{row["version_id"]}"'.encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
