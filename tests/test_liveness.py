"""Liveness deadlines of a running connection: the opening's first whole message, idle, write.

Real sockets on 127.0.0.1 under the autojump clock: a peer that trickles, goes silent or stops
reading costs no real time, and each deadline is checked to the second.  The suite runs in both
reader modes (shared poller on and off), and these tests with it.
"""

from __future__ import annotations

import contextlib
import enum
import ssl
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

import trio_reactive as tr
from tests.engine_support import (
    PROCESSORS,
    Ping,
    Pong,
    Recorder,
    protocol,
    raw_connect,
    read_until_eof,
    start_ping_server,
    start_server,
)

pytestmark = pytest.mark.timeout(30)

REASON = tr.DisconnectReason
PING = b'{"Ping":{"n":1}}\n'


async def _trickle(stream: trio.abc.Stream, data: bytes, every: float) -> None:
    """Send ``data`` one byte at a time, ``every`` seconds apart, until the server hangs up."""
    try:
        for byte in data:
            await stream.send_all(bytes([byte]))
            await trio.sleep(every)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def _hung_up(stream: trio.SocketStream) -> bool:
    """Whether the server ended the connection (a FIN, or a reset since we kept sending)."""
    with trio.fail_after(5):
        with contextlib.suppress(trio.BrokenResourceError):
            await read_until_eof(stream)
    return True


async def _disconnect_reason(events: Recorder) -> tuple[REASON, float]:
    start = trio.current_time()
    await events.wait_for(tr.Disconnected)
    (event,) = events.of(tr.Disconnected)
    return event.reason, trio.current_time() - start


# ---------------------------------------------------------------- handshake: a first whole message


@pytest.mark.parametrize("shape", ["handler", "responsive"])
async def test_a_slowloris_that_never_completes_a_message_is_closed(
    autojump_clock: Any, shape: str
) -> None:
    events = Recorder()
    config = tr.Config(handshake_timeout=5)
    async with trio.open_nursery() as nursery:
        server = await start_server(
            nursery, protocol(), PROCESSORS[shape], config=config, on_event=events
        )
        stream = await raw_connect(server.port)
        nursery.start_soon(_trickle, stream, PING[:-1] * 10, 1.0)
        reason, elapsed = await _disconnect_reason(events)
        assert reason is REASON.HANDSHAKE_TIMEOUT
        assert elapsed == pytest.approx(5, abs=0.01)
        assert await _hung_up(stream)
        await stream.aclose()
        await server.shutdown()


async def test_a_first_whole_message_in_time_completes_the_handshake(autojump_clock: Any) -> None:
    events = Recorder()
    config = tr.Config(handshake_timeout=5)
    async with trio.open_nursery() as nursery:
        server = await start_ping_server(nursery, config=config, on_event=events)
        async with tr.connect(protocol(), "127.0.0.1", server.port) as conn:
            await trio.sleep(4)
            await conn.send(Ping(1))
            assert await conn.receive() == Pong(1, 2)
            await trio.sleep(60)  # silent after its first message: not a handshake matter
            await conn.send(Ping(2))
            assert await conn.receive() == Pong(2, 4)
        await events.wait_for(tr.Disconnected)
        assert events.of(tr.Disconnected)[0].reason is REASON.PEER_CLOSED
        await server.shutdown()


async def test_without_a_handshake_timeout_a_trickle_is_served(autojump_clock: Any) -> None:
    events = Recorder()
    config = tr.Config(handshake_timeout=None)
    async with trio.open_nursery() as nursery:
        server = await start_ping_server(nursery, config=config, on_event=events)
        stream = await raw_connect(server.port)
        await _trickle(stream, PING, 1.0)  # 17 s for one message
        with trio.fail_after(5):
            assert await stream.receive_some() == b'{"Pong":{"n":1,"at":2}}\n'
        assert not events.of(tr.Disconnected)
        await stream.aclose()
        await server.shutdown()


# ---------------------------------------------------------------- idle


async def test_a_server_closes_a_connection_idle_for_idle_timeout(autojump_clock: Any) -> None:
    events = Recorder()
    config = tr.Config(idle_timeout=30)
    async with trio.open_nursery() as nursery:
        server = await start_ping_server(nursery, config=config, on_event=events)
        stream = await raw_connect(server.port)
        for _ in range(3):  # traffic every 20 s keeps it open
            await stream.send_all(PING)
            with trio.fail_after(1):
                assert await stream.receive_some()
            await trio.sleep(20)
        assert not events.of(tr.Disconnected)
        start = trio.current_time()
        with trio.fail_after(15):
            assert await read_until_eof(stream) == b""  # a graceful close: a FIN, not a reset
        assert trio.current_time() - start == pytest.approx(10, abs=0.01)
        await stream.aclose()
        reason, _ = await _disconnect_reason(events)
        assert reason is REASON.IDLE_TIMEOUT
        await server.shutdown()


async def test_a_client_closes_an_idle_connection_too(autojump_clock: Any) -> None:
    events = Recorder()
    async with trio.open_nursery() as nursery:
        server = await start_ping_server(nursery)
        start = trio.current_time()
        async with tr.connect(
            protocol(),
            "127.0.0.1",
            server.port,
            config=tr.Config(idle_timeout=7),
            on_event=events,
        ) as conn:
            await events.wait_for(tr.Disconnected)
            assert trio.current_time() - start == pytest.approx(7, abs=0.01)
            assert conn.peer.disconnect_reason is REASON.IDLE_TIMEOUT
        await server.shutdown()


# ---------------------------------------------------------------- write


def _flooder(sent: list[int]) -> Any:
    """A processor that answers the first Ping with as many Pongs as the peer will take."""

    async def flood(peer: tr.Peer, messages: Any) -> None:
        async for message in messages:
            try:
                for n in range(1_000_000):
                    await peer.send(Pong(n, message.n))
                    sent[0] += 1
            except tr.ConnectionClosed:
                return

    return flood


async def test_a_peer_that_reads_nothing_is_aborted_after_write_timeout(
    autojump_clock: Any,
) -> None:
    events = Recorder()
    sent = [0]
    config = tr.Config(write_timeout=20)
    async with trio.open_nursery() as nursery:
        server = await start_server(
            nursery, protocol(), _flooder(sent), config=config, on_event=events
        )
        stream = await raw_connect(server.port)
        await stream.send_all(PING)
        reason, elapsed = await _disconnect_reason(events)
        assert reason is REASON.WRITE_TIMEOUT
        # 20 s after the last byte the kernel took: never sooner.  The kernel may still take
        # some after the clock has jumped ahead (a busy machine), and each moves the deadline.
        assert 20 <= elapsed < 60
        (left,) = events.of(tr.PeerLeft)
        # What the kernel took reaches the peer, whole; the rest was counted unsent.
        with trio.fail_after(10):
            received = await read_until_eof(stream)
        assert 0 < received.count(b"\n") == left.stats.messages_out < sent[0]
        await stream.aclose()
        await server.shutdown()


async def test_a_peer_that_reads_late_but_within_write_timeout_is_kept(
    autojump_clock: Any,
) -> None:
    events = Recorder()
    config = tr.Config(write_timeout=20)

    async def burst(peer: tr.Peer, messages: Any) -> Any:
        async for _ in messages:
            for n in range(100_000):  # megabytes: more than the kernel holds
                yield Pong(n, n)

    async with trio.open_nursery() as nursery:
        server = await start_server(nursery, protocol(), burst, config=config, on_event=events)
        stream = await raw_connect(server.port)
        await stream.send_all(PING)
        await trio.sleep(15)
        received = 0
        with trio.fail_after(10):
            while received < 100_000:
                received += (await stream.receive_some()).count(b"\n")
        await trio.sleep(60)
        assert not events.of(tr.Disconnected)
        await stream.aclose()
        reason, _ = await _disconnect_reason(events)
        assert reason is REASON.PEER_CLOSED
        await server.shutdown()


# ---------------------------------------------------------------- configuration


def test_liveness_defaults() -> None:
    config = tr.Config()
    assert config.idle_timeout is None
    assert config.write_timeout == 60.0
    assert config.handshake_timeout == 10.0


@pytest.mark.parametrize("field", ["idle_timeout", "write_timeout"])
@pytest.mark.parametrize("value", [0, -1])
def test_liveness_timeouts_must_be_positive(field: str, value: float) -> None:
    with pytest.raises(tr.ConfigError, match=field):
        tr.Config(**{field: value})


# ---------------------------------------------------------------- TLS: one budget, any stream


async def test_the_tls_handshake_and_the_first_message_share_one_budget(
    autojump_clock: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    events = Recorder()
    config = tr.Config(handshake_timeout=10)
    async with trio.open_nursery() as nursery:
        server = await start_ping_server(
            nursery, ssl_context=server_tls, config=config, on_event=events
        )
        start = trio.current_time()
        plain = await raw_connect(server.port)
        await trio.sleep(6)  # most of the budget gone before the TLS handshake starts
        stream = trio.SSLStream(plain, client_tls, server_hostname="127.0.0.1")
        await stream.do_handshake()
        nursery.start_soon(_trickle, stream, PING[:-1], 1.0)
        await events.wait_for(tr.Disconnected)
        assert trio.current_time() - start == pytest.approx(10, abs=0.01)
        assert events.of(tr.Disconnected)[0].reason is REASON.HANDSHAKE_TIMEOUT
        await trio.aclose_forcefully(stream)
        await server.shutdown()


async def test_write_timeout_over_tls(
    autojump_clock: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    events = Recorder()
    sent = [0]
    config = tr.Config(write_timeout=20)
    async with trio.open_nursery() as nursery:
        server = await start_server(
            nursery,
            protocol(),
            _flooder(sent),
            ssl_context=server_tls,
            config=config,
            on_event=events,
        )
        plain = await raw_connect(server.port)
        stream = trio.SSLStream(plain, client_tls, server_hostname="127.0.0.1")
        await stream.send_all(PING)
        reason, _ = await _disconnect_reason(events)
        assert reason is REASON.WRITE_TIMEOUT
        (left,) = events.of(tr.PeerLeft)
        assert left.stats.messages_out < sent[0]
        await trio.aclose_forcefully(stream)
        await server.shutdown()


# ---------------------------------------------------------------- heartbeat

HEARTBEAT = tr.Config(heartbeat_interval=5, heartbeat_timeout=12)


@pytest.mark.parametrize("codec", ["textual", "variable"])
async def test_heartbeats_keep_a_silent_connection_alive_unseen(
    autojump_clock: Any, codec: str
) -> None:
    events = Recorder()
    client_events = Recorder()
    async with trio.open_nursery() as nursery:
        server = await start_server(
            nursery, protocol(codec), PROCESSORS["handler"], config=HEARTBEAT, on_event=events
        )
        async with tr.connect(
            protocol(codec), "127.0.0.1", server.port, config=HEARTBEAT, on_event=client_events
        ) as conn:
            await conn.send(Ping(1))
            assert await conn.receive() == Pong(1, 2)
            await trio.sleep(120)  # silent but for heartbeats, both ways
            assert not events.of(tr.Disconnected) and not client_events.of(tr.Disconnected)
            await conn.send(Ping(2))
            assert await conn.receive() == Pong(2, 4)
        await events.wait_for(tr.Disconnected)
        (left,) = events.of(tr.PeerLeft)
        assert left.stats.messages_in == 2  # heartbeats never reach the processor
        assert not events.of(tr.InputError) and not client_events.of(tr.InputError)
        await server.shutdown()


@settings(max_examples=60, deadline=None)
@given(
    codec=st.sampled_from(["textual", "variable"]),
    items=st.lists(st.one_of(st.none(), st.integers(0, 2**32 - 1)), max_size=30),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
)
def test_heartbeats_anywhere_in_any_reads_change_nothing(
    codec: str, items: list[int | None], cuts: list[int]
) -> None:
    """Heartbeats between messages, the stream cut into reads anywhere: the same messages,
    no error, and every byte accounted for at a hand-over."""
    side = protocol(codec).side("server").codec
    encode = protocol(codec).side("client").codec.encoder().encode
    assert side.heartbeat is not None
    stream = b"".join(side.heartbeat if n is None else encode(Ping(n)) for n in items)
    decoder = side.decoder()
    messages: list[Any] = []
    start = 0
    for cut in [*sorted(cut for cut in cuts if cut < len(stream)), len(stream)]:
        messages += decoder.decode(stream[start:cut]).messages
        start = max(start, cut)
    assert messages == [Ping(n) for n in items if n is not None]
    decoder = side.decoder()
    whole = decoder.decode(stream)
    handled = len(whole.messages) // 2
    rest = decoder.unconsumed([whole], handled)
    assert side.decoder().decode(rest).messages == whole.messages[handled:]


@pytest.mark.parametrize(("codec", "frame"), [("textual", b"\n"), ("variable", b"\0\0\0\0")])
async def test_a_vanished_peer_is_found_by_the_heartbeat_timeout(
    autojump_clock: Any, codec: str, frame: bytes
) -> None:
    events = Recorder()
    async with trio.open_nursery() as nursery:
        server = await start_server(
            nursery, protocol(codec), PROCESSORS["handler"], config=HEARTBEAT, on_event=events
        )
        stream = await raw_connect(server.port)
        encoder = protocol(codec).side("client").codec.encoder()
        await stream.send_all(encoder.encode(Ping(1)))
        start = trio.current_time()
        reply = await stream.receive_some()
        assert reply
        # The server's heartbeats arrive every 5 s; this peer answers none of them.
        received = b""
        with trio.move_on_after(11):
            while True:
                received += await stream.receive_some()
        assert received == frame * 2
        reason, _ = await _disconnect_reason(events)
        assert reason is REASON.HEARTBEAT_TIMEOUT
        assert trio.current_time() - start == pytest.approx(12, abs=0.01)
        await stream.aclose()
        await server.shutdown()


async def test_heartbeat_frames_are_dropped_by_the_decoders() -> None:
    for codec in ("textual", "variable"):
        side = protocol(codec).side("server").codec
        frame = side.heartbeat
        assert frame is not None
        one = protocol(codec).side("client").codec.encoder().encode(Ping(7))
        decoder = side.decoder()
        for data in (frame, frame * 50, frame + one + frame, one * 40 + frame + one * 40):
            decoded = decoder.decode(data)
            assert all(message == Ping(7) for message in decoded.messages)
            assert len(decoded.messages) == data.count(one)
        # What is not handled yet, heartbeats around it included, is handed over exactly.
        decoded = decoder.decode(frame + one + frame + one + frame)
        assert decoder.unconsumed([decoded], 1) == one + frame


async def test_a_codec_without_a_heartbeat_frame_refuses_a_heartbeat() -> None:
    with pytest.raises(tr.ConfigError, match=r"fixed codec.*keepalive"):
        await tr.serve_tcp(protocol("fixed"), PROCESSORS["handler"], 0, config=HEARTBEAT)
    with pytest.raises(tr.ConfigError, match="fixed codec"):
        async with tr.connect(protocol("fixed"), "127.0.0.1", 9, config=HEARTBEAT):
            pass  # refused before connecting
    raw = tr.Protocol(client=bytes, server=bytes, codec=tr.Raw())
    stages = {
        _Stages.TEXT: tr.Stage(protocol(), PROCESSORS["handler"]),
        _Stages.BODY: tr.Stage(raw, _echo),
    }
    service = tr.Service(stages, _Stages.TEXT)
    with pytest.raises(tr.ConfigError, match=r"stage <_Stages\.BODY: 2> uses the raw codec"):
        await tr.serve_tcp(service, None, 0, "127.0.0.1", config=HEARTBEAT)
    # A heartbeat timeout alone needs no frame: it only listens.
    tr.Config(heartbeat_timeout=5)


class _Stages(enum.Enum):
    TEXT = 1
    BODY = 2


def _echo(peer: tr.Peer, chunk: bytes) -> bytes:
    return chunk
