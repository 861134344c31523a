"""Several listener processes on one port: `fhir-server mllp --workers N`.

One gateway process files messages with one core; the parent binds the port once and forks `N`
processes that each accept connections from that socket and run their own runtime, as `serve
--workers` does for HTTP. Left to the kernel, whichever process wakes first would take each new
connection (the first one up took all four of a lab's connections in a test): a `SharedCounts` in
shared memory holds each process's open connections, and a process takes the next connection only
while it holds no more than any other listening process. Messages stay exactly-once
across processes: the inbox refuses a second filing of an entry (`AlreadySettled`) and conditional
writes take their turns in the database. Order per sender holds per connection, which is how MLLP
senders keep it: each waits for the ACK of a message before sending the next.

The parent only supervises: a process that dies once it was listening is started again; one that
dies before it listened (a configuration or database problem, which restarting would only repeat)
stops every process and fails the command. SIGTERM or SIGINT stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["listening_socket", "run_listeners", "SharedCounts"]

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
Serve = Callable[[Callable[[], None], "SharedCounts"], None]
"""`serve(listening, share)`: run a listener until stopped, calling `listening()` once it accepts
connections and taking them in turn with `share`."""


def listening_socket(host: str, port: int, *, backlog: int = 512) -> socket.socket:
    """The socket the listener processes share, bound and listening (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _die_with(parent: int) -> None:
    """Linux: the kernel sends this process SIGTERM when its parent dies, even by SIGKILL, so no
    listener outlives its supervisor (elsewhere the supervisor's own stop is all there is)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before that took effect
        os._exit(0)


class SharedCounts:
    """The `ConnectionShare` of one listener process: the open connections of every process, in shared
    memory (-1: a slot whose process has stopped)."""

    POLL = 0.02

    def __init__(self, counts: Any, slot: int) -> None:
        self.counts = counts
        self.slot = slot

    def holding(self, connections: int) -> None:
        self.counts[self.slot] = connections

    async def turn(self) -> None:
        # polled: the counts change in other processes (and this one's as its connections close),
        # which no event of this process can signal
        while self.counts[self.slot] > min(n for n in self.counts[:] if n >= 0):  # noqa: ASYNC110
            await asyncio.sleep(self.POLL)


def _child(serve: Serve, listening: Any, share: SharedCounts, parent: int) -> None:
    # the parent's handlers came with the fork: a listener stops as a single gateway process does
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _die_with(parent)
    with contextlib.suppress(KeyboardInterrupt):
        serve(listening.set, share)


def run_listeners(workers: int, serve: Serve) -> int:
    """Run `serve(listening, share)` in `workers` forked processes until SIGTERM/SIGINT (0) or until
    one fails before it calls `listening()` (1); returns the exit status."""
    context: Any = multiprocessing.get_context("fork")
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    counts = context.Array("i", [-1] * workers, lock=False)
    started: dict[BaseProcess, tuple[Any, int]] = {}  # each process: the event it sets once listening, its slot

    def start(slot: int) -> None:
        # counted from now, not from when it listens: connections that arrive while it starts wait
        # for it rather than all going to the processes already up (labs keep theirs for days)
        counts[slot] = 0
        listening = context.Event()
        process = context.Process(target=_child, args=(serve, listening, SharedCounts(counts, slot), os.getpid()),
                                  name="fhir-server-mllp")
        process.start()
        started[process] = (listening, slot)

    status = 0
    try:
        for slot in range(workers):
            start(slot)
        while not stopping:
            wait([process.sentinel for process in started], timeout=1.0)
            for process in [p for p in started if not p.is_alive()]:
                listening, slot = started.pop(process)
                counts[slot] = -1
                listened = listening.is_set()
                if stopping:
                    continue
                if not listened:
                    log.error("HL7 gateway: a listener process exited before listening (status %s); stopping",
                              process.exitcode)
                    stopping, status = True, 1
                    break
                log.warning("HL7 gateway: a listener process exited (status %s); starting another",
                            process.exitcode)
                start(slot)
    finally:
        for process in started:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + 20
        for process in started:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status
