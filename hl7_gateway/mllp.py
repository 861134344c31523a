"""MLLP: the minimal lower layer protocol that carries HL7 v2 over TCP (HL7 v2.5.1 Appendix C, MLLP R2).

    <VT 0x0b> message bytes <FS 0x1c><CR 0x0d>

`FrameDecoder` turns a byte stream into frames without any socket (partial frames, several frames in
one read, CR/LF noise between frames tolerated); `MLLPServer` serves many connections with asyncio,
one task each, so a slow sender never blocks another, calling the injected
`handle(raw_message, peer) -> ack` per frame in arrival order and writing the ACK back. Frames above
`max_frame_bytes` are discarded up to their end byte and answered through `oversize_reply` (an AR)
or the connection is closed; bytes that are not MLLP close the connection; `idle_timeout` bounds the
wait between frames and `frame_timeout` the time one frame may take to arrive. TLS is an
`ssl.SSLContext` passed in. `MLLPClient` is a small client for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from typing import Protocol

from fhir_server.background import stop

__all__ = ["START_BLOCK", "END_BLOCK", "FramingError", "FrameTooLarge", "FrameDecoder", "frame",
           "MLLPServer", "MLLPClient", "Handler", "ConnectionShare"]

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
_NOISE = b"\r\n \t"
log = logging.getLogger(__name__)

Handler = Callable[[bytes, str], Awaitable[bytes]]
OversizeReply = Callable[[bytes], bytes]


class FramingError(Exception):
    """The peer sent bytes that are not MLLP-framed."""


class FrameTooLarge(Exception):
    """A frame grew past the configured cap; `head` keeps its first bytes (to address an AR)."""

    def __init__(self, size: int, head: bytes) -> None:
        super().__init__(f"MLLP frame larger than {size} bytes")
        self.head = head


def frame(message: bytes) -> bytes:
    """Wrap one message (or ACK) in MLLP start and end blocks."""
    return START_BLOCK + message + END_BLOCK


class FrameDecoder:
    """Incremental MLLP decoder: feed it bytes, get complete frames back."""

    def __init__(self, max_frame_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._pending = bytearray()
        self._state = "idle"  # idle | frame | discard
        self._scanned = 0
        self._head = b""

    @property
    def in_frame(self) -> bool:
        """A frame has started and not ended yet."""
        return self._state != "idle"

    def feed(self, data: bytes) -> list[bytes | FrameTooLarge]:
        """Frames completed by `data` (a `FrameTooLarge` in place of each oversize one); raises FramingError."""
        pending = self._pending
        pending += data
        out: list[bytes | FrameTooLarge] = []
        while True:
            if self._state == "idle":
                skip = 0
                while skip < len(pending) and pending[skip] in _NOISE:
                    skip += 1
                del pending[:skip]
                if not pending:
                    break
                if pending[0] != START_BLOCK[0]:
                    raise FramingError(f"expected the MLLP start block 0x0b, got 0x{pending[0]:02x}")
                del pending[:1]
                self._state, self._scanned = "frame", 0
            end = pending.find(END_BLOCK, max(self._scanned - 1, 0))
            if end < 0:
                self._scanned = len(pending)
                if len(pending) > self.max_frame_bytes + 1:
                    if self._state == "frame":
                        self._head = bytes(pending[:4096])
                        self._state = "discard"
                    del pending[:-1]  # keep a possible first byte of the end block
                    self._scanned = len(pending)
                break
            body = bytes(pending[:end])
            del pending[:end + len(END_BLOCK)]
            if self._state == "discard" or len(body) > self.max_frame_bytes:
                out.append(FrameTooLarge(self.max_frame_bytes, self._head if self._state == "discard" else body[:4096]))
            else:
                out.append(body)
            self._state, self._scanned = "idle", 0
        return out


class ConnectionShare(Protocol):
    """How a listener that shares its socket with other processes keeps its part of the connections."""

    def holding(self, connections: int) -> None:
        """This process now holds `connections` open connections."""

    async def turn(self) -> None:
        """Return when this process should take the next connection."""


class MLLPServer:
    """An asyncio MLLP listener; `async with MLLPServer(handle, port=0) as server: server.port`."""

    def __init__(self, handle: Handler, *, host: str = "127.0.0.1", port: int = 2575,
                 ssl: ssl_module.SSLContext | None = None, max_frame_bytes: int = 16 * 1024 * 1024,
                 idle_timeout: float = 300.0, frame_timeout: float = 60.0, max_connections: int = 1000,
                 oversize_reply: OversizeReply | None = None, read_size: int = 65536,
                 sock: socket.socket | None = None, share: ConnectionShare | None = None) -> None:
        """`sock`: a listening socket to accept on instead of binding `host`:`port` (the listener
        processes of `fhir-server mllp --workers N` share the one their parent bound); with `share`,
        this process takes a new connection from it only when `share` says it is its turn."""
        self._handle = handle
        self._sock = sock
        self._share = share
        self._accepting: asyncio.Task[None] | None = None
        self.host = host
        self._port = port
        self._ssl = ssl
        self.max_frame_bytes = max_frame_bytes
        self.idle_timeout = idle_timeout
        self.frame_timeout = frame_timeout
        self.max_connections = max_connections
        self._oversize_reply = oversize_reply
        self._read_size = read_size
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._sock is not None:
            return int(self._sock.getsockname()[1])
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        if self._sock is not None:
            self._held()
            self._accepting = asyncio.create_task(self._accept_in_turn(self._sock))
        else:
            self._server = await asyncio.start_server(self._accept, self.host, self._port, ssl=self._ssl,
                                                      limit=self._read_size)

    async def serve_forever(self) -> None:
        if self._server is None and self._accepting is None:
            await self.start()
        if self._accepting is not None:
            await self._accepting
            return
        assert self._server is not None
        await self._server.serve_forever()

    async def _accept_in_turn(self, sock: socket.socket) -> None:
        """Accept on the shared socket while it is this process's turn: without it, whichever process
        the kernel wakes first takes the connections, and one can end up serving every sender."""
        loop = asyncio.get_running_loop()
        while True:
            if self._share is not None:
                await self._share.turn()
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:  # e.g. the peer reset before it was accepted, or out of descriptors
                log.warning("MLLP: accepting a connection failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            if len(self._connections) >= self.max_connections:
                log.warning("MLLP: refusing a connection, %d already open", len(self._connections))
                conn.close()
                continue
            self._connections.add(asyncio.create_task(self._connect(loop, conn)))
            self._held()

    async def _connect(self, loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
        try:
            reader = asyncio.StreamReader(limit=self._read_size)
            protocol = asyncio.StreamReaderProtocol(reader)
            try:
                transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn, ssl=self._ssl)
            except (OSError, ssl_module.SSLError) as exc:
                log.info("MLLP: connection lost before it was set up: %s", exc)
                conn.close()
                return
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            try:
                await self._serve(reader, writer)
            finally:
                await _close(writer)
        finally:
            self._connections.discard(asyncio.current_task())  # type: ignore[arg-type]
            self._held()

    def _held(self) -> None:
        if self._share is not None:
            self._share.holding(len(self._connections))

    async def close(self) -> None:
        accepting, self._accepting = self._accepting, None
        await stop(accepting)
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MLLPServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= self.max_connections:
            log.warning("MLLP: refusing a connection, %d already open", len(self._connections))
            await _close(writer)
            return
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._connections.discard(task)
            await _close(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        decoder = FrameDecoder(self.max_frame_bytes)
        while True:
            timeout = self.frame_timeout if decoder.in_frame else self.idle_timeout
            try:
                data = await asyncio.wait_for(reader.read(self._read_size), timeout)
            except TimeoutError:
                log.info("MLLP %s: %s timeout, closing", peer, "frame" if decoder.in_frame else "idle")
                return
            except (ConnectionError, ssl_module.SSLError) as exc:
                log.info("MLLP %s: connection lost: %s", peer, exc)
                return
            if not data:
                return
            try:
                frames = decoder.feed(data)
            except FramingError as exc:
                log.warning("MLLP %s: %s; closing", peer, exc)
                return
            for item in frames:
                if isinstance(item, FrameTooLarge):
                    log.warning("MLLP %s: frame over %d bytes discarded", peer, self.max_frame_bytes)
                    if self._oversize_reply is None:
                        return
                    reply = self._oversize_reply(item.head)
                else:
                    reply = await self._handle(item, peer)
                if reply:
                    writer.write(frame(reply))
                    try:
                        await asyncio.wait_for(writer.drain(), self.frame_timeout)
                    except (TimeoutError, ConnectionError):
                        return


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


class MLLPClient:
    """A small MLLP client: `async with await MLLPClient.connect(host, port) as c: ack = await c.send(msg)`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = FrameDecoder()
        self._pending: list[bytes] = []
        self.timeout = timeout

    @classmethod
    async def connect(cls, host: str, port: int, *, ssl: ssl_module.SSLContext | None = None,
                      read_timeout: float = 10.0) -> MLLPClient:
        async with asyncio.timeout(read_timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=ssl)
        return cls(reader, writer, read_timeout)

    async def send(self, message: bytes) -> bytes:
        """Send one message and wait for its acknowledgment frame."""
        await self.write(frame(message))
        return await self.receive()

    async def write(self, data: bytes) -> None:
        """Write raw bytes (already framed, or deliberately not) - for tests of partial and bad frames."""
        self._writer.write(data)
        await self._writer.drain()

    async def receive(self) -> bytes:
        """The next acknowledgment frame; raises ConnectionError if the server closes first."""
        while not self._pending:
            data = await asyncio.wait_for(self._reader.read(65536), self.timeout)
            if not data:
                raise ConnectionError("the MLLP server closed the connection")
            for item in self._decoder.feed(data):
                if isinstance(item, bytes):
                    self._pending.append(item)
        return self._pending.pop(0)

    async def close(self) -> None:
        await _close(self._writer)

    async def __aenter__(self) -> MLLPClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
