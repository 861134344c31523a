"""hl7_gateway.mllp: framing without sockets, then a real asyncio server on 127.0.0.1 (random port)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hl7_gateway import FrameDecoder, FrameTooLarge, FramingError, MLLPClient, MLLPServer, frame
from tests.hl7_gateway.conftest import sample

MESSAGE = sample("16_v2tofhir")


# -- framing, no sockets -------------------------------------------------------------------------

def test_decoder_partial_and_multiple_frames() -> None:
    decoder = FrameDecoder()
    data = frame(b"one") + b"\r\n" + frame(b"two") + frame(b"three")
    out: list[object] = []
    for i in range(len(data)):  # one byte at a time, including a split end block
        out += decoder.feed(data[i:i + 1])
    assert out == [b"one", b"two", b"three"]
    assert decoder.feed(frame(b"a") + frame(b"b")) == [b"a", b"b"]
    assert not decoder.in_frame


def test_decoder_oversize_frame_is_skipped_and_resynchronises() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    out = decoder.feed(b"\x0b" + b"MSH|" + b"x" * 150)
    assert out == [] and decoder.in_frame
    out = decoder.feed(b"y" * 1000 + b"\x1c\r" + frame(b"next"))
    assert isinstance(out[0], FrameTooLarge) and out[0].head.startswith(b"MSH|")
    assert out[1] == b"next"


def test_decoder_refuses_bytes_that_are_not_mllp() -> None:
    with pytest.raises(FramingError):
        FrameDecoder().feed(b"GET / HTTP/1.1\r\n")


# -- a real server -------------------------------------------------------------------------------

class EchoHandler:
    """Acknowledges each frame with 'ACK:' + its length; can be slowed down for one peer."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.delay = 0.0

    async def __call__(self, raw: bytes, peer: str) -> bytes:
        self.frames.append(raw)
        if self.delay and raw.startswith(b"SLOW"):
            await asyncio.sleep(self.delay)
        return b"ACK:" + str(len(raw)).encode()


@pytest.fixture
async def server() -> AsyncIterator[tuple[MLLPServer, EchoHandler]]:
    handler = EchoHandler()
    async with MLLPServer(handler, port=0, max_frame_bytes=256 * 1024, idle_timeout=2.0, frame_timeout=0.5,
                          oversize_reply=lambda head: b"AR-too-large:" + head[:3]) as srv:
        yield srv, handler


async def test_round_trip_over_a_socket(server: tuple[MLLPServer, EchoHandler]) -> None:
    srv, handler = server
    async with await MLLPClient.connect("127.0.0.1", srv.port) as client:
        assert await client.send(MESSAGE) == b"ACK:" + str(len(MESSAGE)).encode()
    assert handler.frames == [MESSAGE]


async def test_partial_frames_and_many_frames_in_one_write(server: tuple[MLLPServer, EchoHandler]) -> None:
    srv, handler = server
    async with await MLLPClient.connect("127.0.0.1", srv.port) as client:
        data = frame(MESSAGE)
        for part in (data[:1], data[1:50], data[50:-1], data[-1:]):
            await client.write(part)
            await asyncio.sleep(0.01)
        assert (await client.receive()).startswith(b"ACK:")
        await client.write(b"".join(frame(b"M%d" % i) for i in range(20)))
        acks = [await client.receive() for _ in range(20)]
    assert acks == [b"ACK:2"] * 10 + [b"ACK:3"] * 10
    assert handler.frames[1:] == [b"M%d" % i for i in range(20)]


async def test_frames_over_64_kib_up_to_the_cap_and_oversize(server: tuple[MLLPServer, EchoHandler]) -> None:
    srv, _ = server
    big = MESSAGE + b"OBX|4|TX|X^Y^L||" + b"z" * 200_000 + b"\r"
    async with await MLLPClient.connect("127.0.0.1", srv.port) as client:
        assert await client.send(big) == b"ACK:" + str(len(big)).encode()
        too_big = MESSAGE + b"z" * 300_000
        assert await client.send(too_big) == b"AR-too-large:MSH"
        assert await client.send(b"after") == b"ACK:5"  # the connection resynchronised


async def test_oversize_without_reply_closes(server: tuple[MLLPServer, EchoHandler]) -> None:
    handler = EchoHandler()
    srv = MLLPServer(handler, port=0, max_frame_bytes=1000)
    async with srv, await MLLPClient.connect("127.0.0.1", srv.port) as client:
        await client.write(frame(b"x" * 5000))
        with pytest.raises(ConnectionError):
            await client.receive()


async def test_non_mllp_bytes_close_the_connection_cleanly(server: tuple[MLLPServer, EchoHandler]) -> None:
    srv, handler = server
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed, nothing written back
    writer.close()
    assert handler.frames == []


async def test_framed_garbage_reaches_the_handler(server: tuple[MLLPServer, EchoHandler]) -> None:
    srv, handler = server
    raw = sample("bad_hl7apy_mllp_frame_WRONG")  # already MLLP-framed
    async with await MLLPClient.connect("127.0.0.1", srv.port) as client:
        await client.write(raw)
        assert await client.receive() == b"ACK:5"
    assert handler.frames == [b"WRONG"]


async def test_frame_timeout_and_idle_timeout(server: tuple[MLLPServer, EchoHandler]) -> None:
    srv, _ = server
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"\x0bMSH|half a frame")
    await writer.drain()
    started = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert asyncio.get_running_loop().time() - started < 2.0  # the frame timeout, not the idle one
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # idle timeout
    writer.close()


async def test_concurrent_connections_and_a_slow_sender(server: tuple[MLLPServer, EchoHandler]) -> None:
    srv, handler = server
    handler.delay = 3.0

    async def one(index: int) -> bytes:
        async with await MLLPClient.connect("127.0.0.1", srv.port) as client:
            return await client.send(b"MSG%03d" % index)

    slow = await MLLPClient.connect("127.0.0.1", srv.port)
    slow_ack = asyncio.create_task(slow.send(b"SLOW"))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    acks = await asyncio.gather(*(one(i) for i in range(50)))
    assert asyncio.get_running_loop().time() - started < 2.5  # not held up by the slow handler
    assert acks == [b"ACK:6"] * 50
    assert await slow_ack == b"ACK:4"
    await slow.close()


async def test_connection_cap() -> None:
    async with MLLPServer(EchoHandler(), port=0, max_connections=1) as srv:
        first = await MLLPClient.connect("127.0.0.1", srv.port)
        assert await first.send(b"one") == b"ACK:3"
        second = await MLLPClient.connect("127.0.0.1", srv.port)
        with pytest.raises(ConnectionError):
            await second.send(b"two")
        await first.close()
        await second.close()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    client_ctx.check_hostname = False
    async with MLLPServer(EchoHandler(), port=0, ssl=server_ctx) as srv:
        async with await MLLPClient.connect("127.0.0.1", srv.port, ssl=client_ctx) as client:
            assert await client.send(MESSAGE) == b"ACK:" + str(len(MESSAGE)).encode()
        plain = await MLLPClient.connect("127.0.0.1", srv.port, read_timeout=3)
        with pytest.raises((ConnectionError, TimeoutError)):
            await plain.send(b"not over TLS")
        await plain.close()
