"""`fhir-server mllp --workers N`: listener processes share one port; each message is filed once; a
listener that dies is replaced; SIGTERM stops them all (a real process tree, real sockets, both backends)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fhir_server.bootstrap import start_runtime
from fhir_server.config import Settings
from fhir_server.storage.inbox import InboxStore
from hl7_gateway.db_inbox import DatabaseInbox
from hl7_gateway.listeners import SharedCounts, run_listeners
from hl7_gateway.mllp import MLLPClient

ORU = ("MSH|^~\\&|LIS|LAB{lab}|EHR|HOSP|20261123093000||ORU^R01^ORU_R01|W{n}|P|2.5.1\r"
       "PID|1||MRN{patient}^^^HOSP^MR||Family{patient}^Ada||19700101|F\r"
       "OBR|1|PLAC{n}^EHR|FILL{n}^LIS|24323-8^Comprehensive metabolic panel^LN|||20261123093000|||||||||||||||"
       "20261123101000|||F\r"
       "OBX|1|NM|2823-3^Potassium^LN||4.1|mmol/L|3.5-5.1|N|||F|||20261123093000\r")


def gateway_env(settings: Settings) -> dict[str, str]:
    """The environment of a gateway process on the test's database."""
    env = {**os.environ, "FHIR_DATA_DIR": str(settings.data_dir), "FHIR_LOG_LEVEL": "warning"}
    if settings.is_sqlite:
        env.pop("FHIR_DATABASE_URL", None)
    else:
        env["FHIR_DATABASE_URL"] = str(settings.database_url)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def connections_of(pid: int, port: int) -> int:
    """Established connections to `port` that process `pid` holds (its socket inodes in /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01" and fields[9] in inodes:
            count += 1
    return count


def wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.2)


HELD: list[int] = []


async def send_all(port: int, numbers: range, connections: int = 4, held=None) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Send over `connections` connections at once; `held()`, called once all carried a message, goes to HELD."""
    clients = [await MLLPClient.connect("127.0.0.1", port, read_timeout=60) for _ in range(connections)]
    acks: list[bytes] = []
    for lab, client in enumerate(clients):  # each connection accepted and serving before the count
        acks.append(await client.send(ORU.format(lab=lab, n=f"c{numbers.start}-{lab}", patient=0).encode()))
    if held is not None:
        HELD[:] = sorted(held())

    async def sender(lab: int, client: MLLPClient) -> None:
        for n in numbers[lab::connections]:
            acks.append(await client.send(ORU.format(lab=lab, n=n, patient=n % 3).encode()))

    try:
        await asyncio.gather(*(sender(lab, client) for lab, client in enumerate(clients)))
    finally:
        for client in clients:
            await client.close()
    return acks


async def inbox_statuses(settings: Settings) -> dict[str, int]:
    runtime = await start_runtime(settings)
    try:
        entries = await DatabaseInbox(InboxStore(runtime.store)).list(limit=1000)
    finally:
        await runtime.close()
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.status] = counts.get(entry.status, 0) + 1
    return counts


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_listener_processes_share_the_port_and_are_replaced(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = gateway_env(settings)
    log = (tmp_path / "mllp.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "fhir_server.cli", "mllp", "--port", str(port), "--workers", "2"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(children(process.pid)) == 2)
        with socket.create_connection(("127.0.0.1", port)):  # a probe that connects and leaves at once
            pass
        first = asyncio.run(send_all(port, range(0, 12), held=lambda: [connections_of(pid, port)
                                                                       for pid in children(process.pid)]))
        assert len(first) == 16 and all(b"MSA|AA|" in ack for ack in first)
        assert HELD == [2, 2]  # four connections, two each, however the kernel woke the listeners

        killed = children(process.pid)[0]
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: len(children(process.pid)) == 2 and killed not in children(process.pid))
        second = asyncio.run(send_all(port, range(12, 24)))
        assert len(second) == 16 and all(b"MSA|AA|" in ack for ack in second)

        listeners = children(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{pid}").exists() and b"fhir_server" in Path(f"/proc/{pid}/cmdline").read_bytes()
                       for pid in listeners)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    assert asyncio.run(inbox_statuses(settings)) == {"processed": 32}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_listeners_do_not_outlive_a_killed_supervisor(settings: Settings) -> None:
    env = gateway_env(settings)
    process = subprocess.Popen([sys.executable, "-m", "fhir_server.cli", "mllp", "--port", str(free_port()),
                                "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(children(process.pid)) == 2)
        listeners = children(process.pid)
    finally:
        process.kill()
        process.wait()
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in listeners), timeout=30)


def test_a_port_in_use_fails_the_command(settings: Settings) -> None:
    env = gateway_env(settings)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "fhir_server.cli", "mllp", "--port", str(port), "--workers", "2"],
                                env=env, capture_output=True, timeout=120)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}".encode() in result.stdout + result.stderr


def test_a_listener_that_dies_after_listening_is_started_again(tmp_path: Path) -> None:
    starts = tmp_path / "starts"

    def serve(listening, share) -> None:  # type: ignore[no-untyped-def]
        with starts.open("a") as out:
            out.write("start\n")
        listening()
        if starts.read_text().count("start") >= 2:
            os.kill(os.getppid(), signal.SIGTERM)  # the supervisor stops; this one is stopped with it
            time.sleep(30)
        os._exit(3)  # a crash once listening

    assert run_listeners(1, serve) == 0
    assert starts.read_text().count("start") == 2


def test_a_listener_that_dies_before_listening_fails_the_supervisor(tmp_path: Path) -> None:
    starts = tmp_path / "starts"

    def serve(listening, share) -> None:  # type: ignore[no-untyped-def]
        with starts.open("a") as out:
            out.write("start\n")
        os._exit(3)

    assert run_listeners(1, serve) == 1
    assert starts.read_text().count("start") == 1  # not started again


async def test_a_listener_takes_a_connection_only_while_it_holds_no_more_than_the_others() -> None:
    counts = [2, 0, -1]  # this one holds 2, the second 0, the third has stopped
    share = SharedCounts(counts, 0)
    waiting = asyncio.create_task(share.turn())
    await asyncio.sleep(5 * SharedCounts.POLL)
    assert not waiting.done()
    counts[1] = 1
    await asyncio.sleep(5 * SharedCounts.POLL)
    assert not waiting.done()
    share.holding(1)  # one of its own closed meanwhile
    await asyncio.wait_for(waiting, 1.0)
    share.holding(2)
    assert counts == [2, 1, -1]
    await asyncio.wait_for(SharedCounts([0, -1], 0).turn(), 1.0)
