"""Stopping the server's background tasks (followers, keepers, lease renewals, listeners)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["stop"]


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (if any) and wait until it has ended; its cancellation is not an error."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
