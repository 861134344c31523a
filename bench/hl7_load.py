"""HL7 v2 gateway benchmark on PostgreSQL: ORU^R01 lab results (5 OBX each) streamed over MLLP.

    python bench/hl7_load.py [--messages 100000] [--connections 4] [--paced-rate 50] [--paced-seconds 30]
                             [--patients 5000] [--gateway-workers 1] [--admin-url postgresql://postgres@127.0.0.1:5432/test]

Creates its own database (dropped afterwards), migrates it and starts a real gateway,
`fhir-server mllp --workers N`, in its own process(es). The sender opens `--connections` MLLP connections, one lab
(MSH-4) each, and on each sends a message and waits for its ACK, as labs do. Each message is a
distinct result (its own MSH-10 and filler order number) for one of `--patients` patients, so the
Patient is matched, not created, once the patients have been seen.

1. warm-up: 500 messages, not counted;
2. paced: `--paced-rate` messages/s for `--paced-seconds` (spread over the connections, each message
   sent at its scheduled time): ACK latency p50 / p95 / p99 / max;
3. sustained: `--messages` messages as fast as the ACKs come back: messages/s and resources written/s
   overall and for the first and last 10% of the stream, ACK latency, and the gateway's RSS sampled
   every second (after the first 10%, and its peak over the rest: flat means no growth), and the CPU
   time per message of the gateway, of the database's backends, of the sender and of the rest of
   the machine (all four share its cores);
4. the machine's speed before and after (`cpu_floor`, as `bench.ingest_load` prints it): on a shared VM
   it varies from one hour to the next, and every rate and CPU time the bench prints with it.

With `--worker`, `fhir-server worker` runs beside the gateway, as in production, and every result
queues its patient's AI assessment: the assessment queue's depth is sampled every second (waiting
jobs, and the most it held) with the jobs done per second, for the paced phase (`--paced-rate` 60
messages/s is 300 OBX results/s) and the sustained one. Without it the bench times the gateway alone.

Every ACK must be AA; the inbox must hold one processed entry per message. Prints a table and one
JSON line (BENCH_SUMMARY) with every figure. Targets (2-core machine): >= 300 messages/s sustained,
p99 <= 100 ms at 50 messages/s, RSS flat over 100,000 messages; the worker keeps up with 300 results/s
without unbounded queue growth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.auth_cost import server_cpu_seconds  # noqa: E402
from bench.ingest_load import cpu_floor  # noqa: E402
from bench.rest_load import admin, free_port  # noqa: E402
from hl7_gateway.mllp import MLLPClient  # noqa: E402

BIN = Path(sys.executable).parent
WARMUP = 500

ORU = ("MSH|^~\\&|LIS|LAB{lab}|EHR|HOSP|{now}||ORU^R01^ORU_R01|B{run}-{n}|P|2.5.1\r"
       "PID|1||MRN{patient}^^^HOSP^MR||Family{patient}^Ada^^^^^L||19700101|F|||{patient} Main St^^Leeds^^LS1 4AB^GBR^H"
       "||^PRN^PH^^^^555{patient}\r"
       "PV1|1|O|LAB^^^^^^^^^^||||1234^Ordering^Olive^^^^^^HOSP&1.2.3&ISO\r"
       "ORC|RE|PLAC{run}-{n}^EHR|FILL{run}-{n}^LIS||CM\r"
       "OBR|1|PLAC{run}-{n}^EHR|FILL{run}-{n}^LIS|24323-8^Comprehensive metabolic panel^LN|||20261123093000"
       "|||||||||1234^Ordering^Olive||||||20261123101000|||F\r"
       "OBX|1|NM|2345-7^Glucose^LN||{glucose}|mg/dL|70-99|N|||F|||20261123093000\r"
       "OBX|2|NM|2160-0^Creatinine^LN||0.9|mg/dL|0.6-1.3|N|||F|||20261123093000\r"
       "OBX|3|NM|2951-2^Sodium^LN||140|mmol/L|135-145|N|||F|||20261123093000\r"
       "OBX|4|NM|2823-3^Potassium^LN||4.1|mmol/L|3.5-5.1|N|||F|||20261123093000\r"
       "OBX|5|NM|17861-6^Calcium^LN||9.5|mg/dL|8.5-10.5|N|||F|||20261123093000\r"
       "SPM|1|||119297000^Blood specimen^SCT|||||||||||||20261123093000\r")


class Sender:
    """Numbers messages across all connections and records each one's ACK latency."""

    def __init__(self, run: str, patients: int) -> None:
        self.run = run
        self.patients = patients
        self.next = 0
        self.not_aa = 0

    def message(self, lab: int) -> bytes:
        n = self.next
        self.next += 1
        return ORU.format(lab=lab, now=time.strftime("%Y%m%d%H%M%S"), run=self.run, n=n,
                          patient=n % self.patients, glucose=70 + n % 60).encode()

    async def send(self, client: MLLPClient, lab: int) -> float:
        message = self.message(lab)
        start = time.perf_counter()
        ack = await client.send(message)
        elapsed = time.perf_counter() - start
        if b"MSA|AA|" not in ack:
            self.not_aa += 1
            if self.not_aa <= 3:
                print("not AA:", ack.decode(errors="replace").replace("\r", " | "), file=sys.stderr)
        return elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def latency_ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 0.50) * 1000, 2), "p95_ms": round(percentile(values, 0.95) * 1000, 2),
            "p99_ms": round(percentile(values, 0.99) * 1000, 2), "max_ms": round(max(values, default=0) * 1000, 2)}


def rss_mib(pid: int) -> float:
    """RSS of the gateway process and of its listener processes (`--gateway-workers`)."""
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # it exited meanwhile
        return total
    return total + sum(rss_mib(int(child)) for child in children)


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores: user, nice, system, interrupts, steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CpuSplit:
    """CPU time spent during a phase by the gateway (its process and its listener processes), by the
    PostgreSQL backends of the bench's database, by this sender, and by the rest of the machine (the
    database's WAL writer and checkpointer among it): where a 2-core machine's time per message goes."""

    def __init__(self, gateway_pid: int, database: str) -> None:
        self.gateway_pid = gateway_pid  # the gateway runs in a session of its own: its process group
        self.database = database
        self.start = self._now()

    def _now(self) -> tuple[float, float, float, float]:
        gateway, database = server_cpu_seconds(self.gateway_pid, self.database)
        return gateway, database, time.process_time(), machine_busy_seconds()

    def per_message_ms(self, messages: int) -> dict[str, float]:
        gateway, database, sender, machine = (end - start for start, end in zip(self.start, self._now(), strict=True))
        spent = {"gateway": gateway, "database": database, "sender": sender}
        spent["rest_of_machine"] = max(0.0, machine - sum(spent.values()))
        return {name: round(1000 * seconds / max(messages, 1), 2) for name, seconds in spent.items()}


async def resources_written(db_url: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM resource_versions"))
    finally:
        await conn.close()


class QueueDepth:
    """Samples the waiting and finished assessment jobs every second while a phase runs."""

    SQL = ("SELECT count(*) FILTER (WHERE status IN ('queued', 'running')), count(*) FILTER (WHERE status = 'done'), "
           "count(*) FILTER (WHERE status = 'failed') FROM jobs WHERE kind = 'ai-pipeline.assess'")

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.samples: list[tuple[float, int, int, int]] = []  # (time, waiting, done, failed)

    async def sample(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(self.db_url)
        try:
            while not stop.is_set():
                waiting, done, failed = await conn.fetchrow(self.SQL)
                self.samples.append((time.perf_counter(), waiting, done, failed))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            await conn.close()

    def figures(self) -> dict[str, object]:
        if len(self.samples) < 2:
            return {}
        (t0, _, done0, _), (t1, waiting1, done1, failed1) = self.samples[0], self.samples[-1]
        tenth = max(1, len(self.samples) // 10)
        return {"waiting_max": max(w for _, w, _, _ in self.samples), "waiting_end": waiting1,
                "waiting_first_10pct_mean": round(statistics.mean(w for _, w, _, _ in self.samples[:tenth]), 1),
                "waiting_last_10pct_mean": round(statistics.mean(w for _, w, _, _ in self.samples[-tenth:]), 1),
                "assessments_per_s": round((done1 - done0) / (t1 - t0), 1), "failed": failed1}


async def measured(db_url: str, worker: bool, phase):  # type: ignore[no-untyped-def]
    """Run `phase` (a coroutine), with the assessment queue sampled when the worker runs."""
    if not worker:
        return await phase, {}
    depth, stop = QueueDepth(db_url), asyncio.Event()
    sampler = asyncio.create_task(depth.sample(stop))
    try:
        return await phase, depth
    finally:
        stop.set()
        await sampler


async def inbox_statuses(db_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(db_url)
    try:
        return {row[0]: row[1] for row in await conn.fetch("SELECT status, count(*) FROM inbox_messages GROUP BY status")}
    finally:
        await conn.close()


async def unpaced(sender: Sender, clients: list[MLLPClient], count: int, marks: list[tuple[int, float, int]],
                  db_url: str) -> list[float]:
    """`count` messages as fast as ACKs return; `marks` gets (messages done, time, resources) per 10%."""
    latencies: list[float] = []
    done = 0
    step = max(count // 10, 1)
    marks.append((0, time.perf_counter(), await resources_written(db_url)))

    async def connection(lab: int, client: MLLPClient) -> None:
        nonlocal done
        while sender.next < sender_limit:
            latencies.append(await sender.send(client, lab))
            done += 1
            if done % step == 0:
                marks.append((done, time.perf_counter(), -1))

    sender_limit = sender.next + count
    await asyncio.gather(*(connection(lab, client) for lab, client in enumerate(clients, 1)))
    marks.append((done, time.perf_counter(), await resources_written(db_url)))
    return latencies


async def paced(sender: Sender, clients: list[MLLPClient], rate: float, seconds: float) -> list[float]:
    """Open loop: message k is due at start + k/rate, on connection k mod n; latency from its send."""
    latencies: list[float] = []
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2

    async def connection(index: int, client: MLLPClient) -> None:
        for k in range(index, total, len(clients)):
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            latencies.append(await sender.send(client, index + 1))

    await asyncio.gather(*(connection(i, client) for i, client in enumerate(clients)))
    return latencies


async def bench(args: argparse.Namespace, port: int, pid: int, db_url: str) -> dict[str, object]:
    sender = Sender(secrets.token_hex(3), args.patients)
    clients = [await MLLPClient.connect("127.0.0.1", port, read_timeout=60) for _ in range(args.connections)]
    try:
        await unpaced(sender, clients, WARMUP, [], db_url)
        paced_started = time.perf_counter()
        paced_latencies, paced_queue = await measured(db_url, args.worker,
                                                      paced(sender, clients, args.paced_rate, args.paced_seconds))
        paced_seconds = time.perf_counter() - paced_started
        samples: list[tuple[float, float]] = []
        stop = asyncio.Event()

        async def sample_rss() -> None:
            while not stop.is_set():
                samples.append((time.perf_counter(), rss_mib(pid)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

        sampler = asyncio.create_task(sample_rss())
        marks: list[tuple[int, float, int]] = []
        cpu = CpuSplit(pid, db_url.rpartition("/")[2])
        latencies, sustained_queue = await measured(db_url, args.worker,
                                                    unpaced(sender, clients, args.messages, marks, db_url))
        cpu_ms = cpu.per_message_ms(args.messages)
        stop.set()
        await sampler
    finally:
        for client in clients:
            await client.close()
    (_, t0, r0), (done1, t1, r1) = marks[0], marks[-1]
    tenth = marks[1:-1]
    first = tenth[0] if tenth else marks[-1]
    last_start = [m for m in marks[:-1] if m[0] <= 0.9 * done1][-1]
    seconds = t1 - t0
    after_first_tenth = [rss for at, rss in samples if at >= first[1]]
    return {
        "messages": done1, "seconds": round(seconds, 1),
        "messages_per_s": round(done1 / seconds, 1),
        "resources_written": r1 - r0, "resources_per_s": round((r1 - r0) / seconds, 1),
        "resources_per_message": round((r1 - r0) / max(done1, 1), 2),
        "first_10pct_messages_per_s": round(first[0] / (first[1] - t0), 1),
        "last_10pct_messages_per_s": round((done1 - last_start[0]) / (t1 - last_start[1]), 1),
        "sustained_latency": latency_ms(latencies),
        "sustained_cpu_ms_per_message": cpu_ms,
        "paced_rate": args.paced_rate, "paced_messages": len(paced_latencies),
        "paced_achieved_per_s": round(len(paced_latencies) / paced_seconds, 1),
        "paced_latency": latency_ms(paced_latencies),
        "rss_mib_start": round(samples[0][1], 1) if samples else None,
        "rss_mib_after_10pct": round(after_first_tenth[0], 1) if after_first_tenth else None,
        "rss_mib_peak_after_10pct": round(max(after_first_tenth), 1) if after_first_tenth else None,
        "rss_mib_end": round(samples[-1][1], 1) if samples else None,
        "not_aa": sender.not_aa,
        **({"paced_assessment_queue": paced_queue.figures(), "sustained_assessment_queue": sustained_queue.figures()}
           if args.worker else {}),
        "inbox": await inbox_statuses(db_url),
        "sent": sender.next,
    }


def log_tail(log: Path) -> str:
    """The end of the gateway's and worker's log, for a bench that stops because one of them did."""
    return log.read_text(errors="replace")[-2000:]


def wait_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the gateway exited at start:\n" + log_tail(log))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the gateway did not listen on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("FHIR_TEST_POSTGRES_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--paced-rate", type=float, default=50)
    parser.add_argument("--paced-seconds", type=float, default=30)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--gateway-workers", type=int, default=1, help="listener processes (mllp --workers)")
    parser.add_argument("--worker", action="store_true", help="run `fhir-server worker` too and sample its queue")
    args = parser.parse_args()
    load_before = os.getloadavg()
    floor_start = cpu_floor()

    name = f"fhir_bench_hl7_{secrets.token_hex(4)}"
    db_url = f"{args.admin_url.rpartition('/')[0]}/{name}"
    asyncio.run(admin(args.admin_url, f'CREATE DATABASE "{name}"'))
    work = Path(tempfile.mkdtemp(prefix="fhir-bench-hl7-"))
    process: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        env = {**os.environ, "FHIR_DATABASE_URL": db_url, "FHIR_DATA_DIR": str(work / "data"),
               "FHIR_LOG_LEVEL": "warning"}
        subprocess.run([str(BIN / "fhir-server"), "migrate"], env=env, check=True, capture_output=True)
        port = free_port()
        log = open(work / "gateway.log", "wb")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen([str(BIN / "fhir-server"), "mllp", "--port", str(port),
                                    "--workers", str(args.gateway_workers)], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        if args.worker:
            worker = subprocess.Popen([str(BIN / "fhir-server"), "worker"], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(port, process, work / "gateway.log")
        figures = asyncio.run(bench(args, port, process.pid, db_url))
        figures["cpu_floor_seconds"] = {"start": floor_start, "end": cpu_floor()}
        if worker is not None and worker.poll() is not None:
            raise SystemExit("the worker exited during the run:\n" + log_tail(work / "gateway.log"))
        latency, paced_latency = figures["sustained_latency"], figures["paced_latency"]
        print(f"\nHL7 v2 gateway on PostgreSQL ({args.gateway_workers} listener process"
              f"{'es' if args.gateway_workers > 1 else ''}): ORU^R01 with 5 OBX over {args.connections} MLLP connections; "
              f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}), "
              f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}; CPU floor (20M additions, one "
              f"core): {floor_start} s at the start, {figures['cpu_floor_seconds']['end']} s at the end")  # type: ignore[index]
        print(f"sustained: {figures['messages']:,} messages in {figures['seconds']} s = "
              f"{figures['messages_per_s']} messages/s, {figures['resources_per_s']} resources written/s "
              f"({figures['resources_per_message']} per message); first 10%: {figures['first_10pct_messages_per_s']}/s, "
              f"last 10%: {figures['last_10pct_messages_per_s']}/s  (target >= 300 messages/s)")
        print("sustained CPU ms per message: " + ", ".join(
            f"{name.replace('_', ' ')} {ms}" for name, ms in figures["sustained_cpu_ms_per_message"].items()))  # type: ignore[attr-defined]
        print(f"sustained ACK latency ms: p50 {latency['p50_ms']}  p95 {latency['p95_ms']}  "  # type: ignore[index]
              f"p99 {latency['p99_ms']}  max {latency['max_ms']}")  # type: ignore[index]
        print(f"paced {args.paced_rate:g}/s ({figures['paced_achieved_per_s']}/s achieved: ACKs that come late "
              f"hold their connection's next send), {figures['paced_messages']} messages, ACK latency ms: "
              f"p50 {paced_latency['p50_ms']}  p95 {paced_latency['p95_ms']}  "  # type: ignore[index]
              f"p99 {paced_latency['p99_ms']}  max {paced_latency['max_ms']}  (target p99 <= 100)")  # type: ignore[index]
        print(f"gateway RSS MiB: start {figures['rss_mib_start']}, after 10% {figures['rss_mib_after_10pct']}, "
              f"peak after 10% {figures['rss_mib_peak_after_10pct']}, end {figures['rss_mib_end']}")
        print(f"ACKs not AA: {figures['not_aa']}; inbox: {figures['inbox']} for {figures['sent']} sent")
        warnings = [line for line in (work / "gateway.log").read_text(errors="replace").splitlines()
                    if "WARNING" in line or "ERROR" in line]
        figures["log_warnings"] = len(warnings)
        print(f"gateway log: {len(warnings)} warning(s) or error(s)" + "".join(f"\n  {line}" for line in warnings[:10]))
        if args.worker:
            for phase in ("paced", "sustained"):
                print(f"AI assessment queue, {phase}: {figures[f'{phase}_assessment_queue']}")
        print("BENCH_SUMMARY " + json.dumps({**figures, "connections": args.connections,
                                             "gateway_workers": args.gateway_workers,
                                             "loadavg_before": load_before}))
        return 0 if figures["not_aa"] == 0 else 1
    finally:
        for running in (worker, process):
            if running is None:
                continue
            try:
                os.killpg(running.pid, signal.SIGTERM)
                running.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(running.pid, signal.SIGKILL)
        asyncio.run(admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
