"""The engine over real sockets: every processor shape on every codec, events, errors, limits."""

from __future__ import annotations

from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.engine_support import (
    CODECS,
    PROCESSORS,
    Ping,
    Pong,
    Quit,
    Recorder,
    protocol,
    raw_connect,
    read_until_eof,
    reset_on_close,
    shapes_of,
    start_server,
)

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("shape", list(PROCESSORS))
async def test_every_processor_shape_on_every_codec(codec: str, shape: str) -> None:
    proto = protocol(codec)
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS[shape], on_event=events)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                for n in range(200):
                    await conn.send(Ping(n))
                await conn.send(Quit())
                replies = [await conn.receive() for _ in range(200)]
            assert replies == [Pong(n, n * 2) for n in range(200)]
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    counts = events.count()
    assert counts["Connected"] == counts["Disconnected"] == 1
    assert counts["PeerArrived"] == counts["PeerLeft"] == 1
    (left,) = events.of(tr.PeerLeft)
    assert left.stats.messages_in == 201
    assert left.stats.messages_out == 200


def _client_logic(message: Any) -> Any:
    """Client side of a counting game: answer Pong(n) with Ping(n + 1) up to 20, then Quit."""
    return Ping(message.n + 1) if message.n < 20 else Quit()


@pytest.mark.parametrize("shape", list(PROCESSORS))
async def test_reactive_client_runs_every_processor_shape(shape: str) -> None:
    """The client runs a processor on the mirrored protocol and ends when the server closes."""
    proto = protocol("fixed")
    seen: list[int] = []

    async def server_side(peer: tr.Peer, messages: Any) -> Any:
        yield Pong(0, 0)
        async for message in messages:
            if isinstance(message, Quit):
                return
            seen.append(message.n)
            yield Pong(message.n, 0)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, server_side)
            client = shapes_of(_client_logic)[shape]
            reason = await tr.run_client(proto, client, "127.0.0.1", server.port)
            await server.shutdown()
    assert seen == list(range(1, 21))
    assert reason is tr.DisconnectReason.PEER_CLOSED


async def test_flood_of_a_million_messages_loses_and_reorders_nothing() -> None:
    proto = protocol("fixed")
    total = 1_000_000
    state = {"expected": 0, "out_of_order": 0}

    def count(peer: tr.Peer, message: Any) -> Any:
        if isinstance(message, Quit):
            return Pong(state["expected"], state["out_of_order"])
        if message.n != state["expected"]:
            state["out_of_order"] += 1
        state["expected"] = message.n + 1
        return None

    encoder = proto.side("client").codec.encoder()
    chunk = encoder.encode_batch([Ping(n) for n in range(10_000)])
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, count)
            stream = await raw_connect(server.port)
            for base in range(0, total, 10_000):
                if base:
                    chunk = encoder.encode_batch([Ping(n) for n in range(base, base + 10_000)])
                await stream.send_all(chunk)
            await stream.send_all(encoder.encode(Quit()))
            reply = proto.side("client").codec.decoder().decode_batch(await stream.receive_some())
            await stream.aclose()
            await server.shutdown()
    assert reply == [Pong(total, 0)]


async def test_bad_input_is_reported_skipped_and_answered() -> None:
    proto = protocol("textual", input_error=lambda err: Pong(999, 0))
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"], on_event=events)
            stream = await raw_connect(server.port)
            await stream.send_all(
                b'{"Ping":{"n":1}}\nnot json\n{"Nope":{}}\n{"Ping":{"n":"x"}}\n{"Ping":{"n":2}}\n'
            )
            await stream.send_eof()
            data = await read_until_eof(stream)
            await server.shutdown()
    replies = proto.side("client").codec.decoder().decode_batch(data)
    assert replies == [Pong(1, 2), Pong(999, 0), Pong(999, 0), Pong(999, 0), Pong(2, 4)]
    errors = events.of(tr.InputError)
    assert len(errors) == 3
    assert all(isinstance(event.error, tr.DecodeError) for event in errors)


async def test_close_on_input_error_closes_only_that_connection() -> None:
    proto = protocol("textual")
    config = tr.Config(close_on_input_error=True)
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery, proto, PROCESSORS["responsive"], config=config, on_event=events
            )
            async with tr.connect(proto, "127.0.0.1", server.port) as good:
                bad = await raw_connect(server.port)
                await bad.send_all(b"garbage\n")
                assert await read_until_eof(bad) == b""
                await good.send(Ping(5))
                assert await good.receive() == Pong(5, 10)
            await server.shutdown()
    reasons = [event.reason for event in events.of(tr.Disconnected)]
    assert tr.DisconnectReason.INPUT_ERROR in reasons


@pytest.mark.parametrize("codec", list(CODECS))
async def test_oversize_frame_closes_the_connection_and_spares_neighbours(codec: str) -> None:
    proto = protocol(codec)
    config = tr.Config(max_message_size=64)
    events = Recorder()
    oversize = {
        "textual": b"x" * 65,  # no newline: refused before the line ends
        "fixed": b"\xff" * 200,  # an unknown tag: a decode error, not a size error
        "variable": (1 << 20).to_bytes(4, "little"),  # announces 1 MiB: refused at once
    }[codec]
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(
                nursery, proto, PROCESSORS["handler"], config=config, on_event=events
            )
            async with tr.connect(proto, "127.0.0.1", server.port, config=config) as good:
                bad = await raw_connect(server.port)
                await bad.send_all(oversize)
                if codec != "fixed":
                    assert await read_until_eof(bad) == b""
                await good.send(Ping(7))
                assert await good.receive() == Pong(7, 14)
                await bad.aclose()
            await server.shutdown()
    if codec != "fixed":
        assert any(isinstance(event.error, tr.FrameTooLarge) for event in events.of(tr.InputError))
        reasons = [event.reason for event in events.of(tr.Disconnected)]
        assert tr.DisconnectReason.FRAME_TOO_LARGE in reasons


async def test_handler_errors_follow_the_error_policy() -> None:
    def flaky(peer: tr.Peer, message: Any) -> Any:
        if message.n == 2:
            raise ValueError("two is unlucky")
        return Pong(message.n, 0)

    proto = protocol("textual", processor_error=lambda exc: Pong(666, 0))
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, flaky, on_event=events)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                for n in (1, 2, 3):
                    await conn.send(Ping(n))
                replies = [await conn.receive() for _ in range(3)]
            assert replies == [Pong(1, 0), Pong(666, 0), Pong(3, 0)]
            closing = tr.Config(close_on_processor_error=True)
            await server.shutdown()
            server = await start_server(nursery, proto, flaky, on_event=events, config=closing)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                for n in (1, 2, 3):
                    await conn.send(Ping(n))
                replies = [message async for message in conn]
            assert replies == [Pong(1, 0), Pong(666, 0)]
            await server.shutdown()
    assert len(events.of(tr.ProcessorError)) == 2


async def test_stream_processor_error_closes_with_a_reason() -> None:
    async def broken(peer: tr.Peer, messages: Any) -> Any:
        async for message in messages:
            yield Pong(message.n, 0)
            raise RuntimeError("boom")

    proto = protocol("textual", processor_error=lambda exc: Pong(-1, 0))
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, broken, on_event=events)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                replies = [message async for message in conn]
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert replies == [Pong(1, 0), Pong(-1, 0)]
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.PROCESSOR_ERROR
    assert isinstance(gone.error, RuntimeError)


async def _disconnect_reason(processor: Any, client: Any, **kwargs: Any) -> tr.Disconnected:
    events = Recorder()
    proto = protocol("textual")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, processor, on_event=events, **kwargs)
            await client(server)
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    counts = events.count()
    assert counts["Connected"] == 1
    assert counts["Disconnected"] == 1
    assert counts["PeerArrived"] == counts["PeerLeft"] == 1
    return events.of(tr.Disconnected)[0]


async def _send_and_eof(server: tr.Server) -> None:
    stream = await raw_connect(server.port)
    await stream.send_all(b'{"Ping":{"n":1}}\n')
    await stream.send_eof()
    await read_until_eof(stream)


async def _send_and_reset(server: tr.Server) -> None:
    stream = await raw_connect(server.port)
    await stream.send_all(b'{"Ping":{"n":1}}\n')
    await trio.sleep(0.05)
    reset_on_close(stream)
    await stream.aclose()


async def _send_and_wait(server: tr.Server) -> None:
    stream = await raw_connect(server.port)
    await stream.send_all(b'{"Ping":{"n":1}}\n')
    await read_until_eof(stream)


async def test_events_on_peer_eof() -> None:
    event = await _disconnect_reason(PROCESSORS["handler"], _send_and_eof)
    assert event.reason is tr.DisconnectReason.PEER_CLOSED


async def test_events_on_reset() -> None:
    async def slow(peer: tr.Peer, messages: Any) -> None:
        async for _ in messages:
            await trio.sleep(0.2)
            await peer.send(Pong(1, 1))
            await trio.sleep(0.2)
            await peer.send(Pong(1, 1))

    event = await _disconnect_reason(slow, _send_and_reset)
    assert event.reason in (tr.DisconnectReason.RESET, tr.DisconnectReason.PEER_CLOSED)


async def test_events_on_abort() -> None:
    def aborting(peer: tr.Peer, message: Any) -> None:
        peer.abort()

    event = await _disconnect_reason(aborting, _send_and_wait)
    assert event.reason is tr.DisconnectReason.ABORTED


async def test_events_on_flush_and_close() -> None:
    unsent: list[int] = []

    async def closing(peer: tr.Peer, messages: Any) -> None:
        async for message in messages:
            await peer.send(Pong(message.n, 0))
            unsent.append(await peer.flush_and_close(1.0))

    event = await _disconnect_reason(closing, _send_and_wait)
    assert event.reason is tr.DisconnectReason.CLOSED
    assert unsent == [0]


async def test_events_on_processor_end() -> None:
    async def one_reply(peer: tr.Peer, messages: Any) -> Any:
        async for message in messages:
            yield Pong(message.n, 0)
            return

    event = await _disconnect_reason(one_reply, _send_and_wait)
    assert event.reason is tr.DisconnectReason.PROCESSOR_ENDED


async def test_shutdown_with_busy_connections_flushes_and_frees_the_port() -> None:
    proto = protocol("textual")
    events = Recorder()
    received: list[int] = []

    async def ticker(peer: tr.Peer, messages: Any) -> None:
        n = 0
        while True:
            await peer.send(Pong(n, 0))
            n += 1
            await trio.sleep(0.001)

    async def client(port: int) -> None:
        async with tr.connect(proto, "127.0.0.1", port) as conn:
            async for _ in conn:
                received.append(1)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, ticker, on_event=events)
            port = server.port
            for _ in range(5):
                nursery.start_soon(client, port)
            await events.wait_for(tr.Connected, 5)
            await trio.sleep(0.1)
            with trio.fail_after(2):
                await server.shutdown(grace=0.5)
            await server.shutdown()  # a second call is harmless
            again = await nursery.start(
                lambda task_status: tr.serve_tcp(
                    proto, ticker, port, "127.0.0.1", task_status=task_status
                )
            )
            assert again.port == port
            await again.shutdown()
    assert len(events.of(tr.Disconnected)) == 5
    assert {event.reason for event in events.of(tr.Disconnected)} == {tr.DisconnectReason.SHUTDOWN}
    assert len(events.of(tr.ServiceTerminating)) == 6  # one per peer, one for the service
    assert received


async def test_session_lives_and_dies_with_the_connection() -> None:
    proto = protocol("textual")
    peers: list[tr.Peer] = []
    sessions_at_disconnect: list[dict[Any, Any]] = []

    def remember(peer: tr.Peer, message: Any) -> Any:
        peer.session.setdefault("seen", []).append(message.n)
        return Pong(len(peer.session["seen"]), 0)

    disconnected = trio.Event()

    def on_event(event: Any) -> None:
        if isinstance(event, tr.Connected):
            peers.append(event.peer)
        if isinstance(event, tr.Disconnected):
            sessions_at_disconnect.append(dict(event.peer.session))
            disconnected.set()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, remember, on_event=on_event)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                await conn.send(Ping(2))
                assert [await conn.receive() for _ in range(2)] == [Pong(1, 0), Pong(2, 0)]
            await disconnected.wait()
            await server.shutdown()
    assert sessions_at_disconnect == [{"seen": [1, 2]}]
    assert peers[0].session == {}
    assert peers[0].stage is None
    assert "Peer #" in repr(peers[0])


async def test_connect_retries_until_a_late_server_appears() -> None:
    from tests.engine_support import free_port

    proto = protocol("textual")
    port = free_port()
    config = tr.Config(connect_retry=tr.RetryPolicy.backoff(40, initial_delay=0.01))

    async def late_server(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        await trio.sleep(0.3)
        await tr.serve_tcp(proto, PROCESSORS["handler"], port, "127.0.0.1", task_status=task_status)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(late_server)
            async with tr.connect(proto, "127.0.0.1", port, config=config) as conn:
                await conn.send(Ping(3))
                assert await conn.receive() == Pong(3, 6)
            nursery.cancel_scope.cancel()


async def test_connect_without_retry_fails_with_a_typed_error() -> None:
    from tests.engine_support import free_port

    with pytest.raises(tr.ConnectFailed), trio.fail_after(5):
        async with tr.connect(protocol(), "127.0.0.1", free_port()):
            pass


async def test_host_names_resolve() -> None:
    proto = protocol("textual")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, PROCESSORS["handler"])
            async with tr.connect(proto, "localhost", server.port) as conn:
                await conn.send(Ping(1))
                assert await conn.receive() == Pong(1, 2)
            await server.shutdown()


def test_config_is_validated_with_clear_messages() -> None:
    with pytest.raises(tr.ConfigError, match="outgoing_capacity must be an integer ≥ 1"):
        tr.Config(outgoing_capacity=0)
    with pytest.raises(tr.ConfigError, match="close_timeout"):
        tr.Config(close_timeout=-1)
    with pytest.raises(tr.ConfigError, match="backoff needs attempts"):
        tr.RetryPolicy.backoff(0)
    with pytest.raises(tr.ConfigError, match="ttl"):
        tr.Config(ttl=0)
    with pytest.raises(tr.ConfigError, match="u32"):
        tr.Config(max_message_size=1 << 33)


def test_processor_shapes_are_classified() -> None:
    from trio_reactive.processor import Kind, adapt

    assert adapt(PROCESSORS["responsive"]).kind is Kind.RESPONSIVE
    assert adapt(PROCESSORS["unresponsive"]).kind is Kind.UNRESPONSIVE
    assert adapt(PROCESSORS["handler"]).kind is Kind.HANDLER
    assert adapt(PROCESSORS["async_handler"]).kind is Kind.ASYNC_HANDLER


async def test_reactive_client_reconnects_after_the_server_closes() -> None:
    proto = protocol("textual")
    connections: list[int] = []
    replies: list[int] = []

    async def server_side(peer: tr.Peer, messages: Any) -> Any:
        connections.append(peer.id)
        async for message in messages:
            yield Pong(message.n, len(connections))
            if len(connections) < 3:
                return  # close: the client should come back

    async def client_side(peer: tr.Peer, messages: Any) -> Any:
        yield Ping(len(replies))
        async for message in messages:
            replies.append(message.at)
            if len(replies) == 3:
                return

    config = tr.Config(connect_retry=tr.RetryPolicy.backoff(5, initial_delay=0.01))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, server_side)
            reason = await tr.run_client(
                proto,
                client_side,
                "127.0.0.1",
                server.port,
                config=config,
                reconnect=tr.RetryPolicy.backoff(5, initial_delay=0.01),
            )
            await server.shutdown()
    assert replies == [1, 2, 3]
    assert len(set(connections)) == 3
    assert reason is tr.DisconnectReason.PROCESSOR_ENDED


async def test_reconnect_gives_up_with_a_typed_error() -> None:
    proto = protocol("textual")

    async def goodbye(peer: tr.Peer, messages: Any) -> Any:
        yield Pong(0, 0)

    async def listener(peer: tr.Peer, messages: Any) -> None:
        async for _ in messages:
            pass

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, goodbye)
            port = server.port

            async def stop_after_first(event: Any) -> None:
                if isinstance(event, tr.Disconnected):
                    await server.shutdown()

            with pytest.raises(tr.ConnectFailed):
                await tr.run_client(
                    proto,
                    listener,
                    "127.0.0.1",
                    port,
                    on_event=stop_after_first,
                    reconnect=tr.RetryPolicy.backoff(2, initial_delay=0.01),
                )


async def test_a_timeout_while_waiting_for_a_message_loses_nothing() -> None:
    """The message stream is cancel-safe: time out, then keep iterating."""
    proto = protocol("textual")
    timeouts: list[int] = []

    async def patient(peer: tr.Peer, messages: Any) -> None:
        stream = aiter(messages)
        while True:
            with trio.move_on_after(0.02) as scope:
                message = await anext(stream, None)
            if scope.cancelled_caught:
                timeouts.append(1)
                continue
            if message is None:
                return
            await peer.send(Pong(message.n, len(timeouts)))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, patient)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                await trio.sleep(0.1)
                await conn.send(Ping(1))
                first = await conn.receive()
                with trio.move_on_after(0.05):
                    await conn.receive()  # nothing comes: the client's own timeout
                await conn.send(Ping(2))
                second = await conn.receive()
            await server.shutdown()
    assert first.n == 1
    assert first.at > 0  # it timed out before the message came, and still got it
    assert second.n == 2


async def test_a_sync_handler_can_reply_then_close() -> None:
    proto = protocol("textual")
    events = Recorder()

    def last_word(peer: tr.Peer, message: Any) -> Pong:
        peer.close()
        return Pong(message.n, 0)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, last_word, on_event=events)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                await conn.send(Ping(1))
                await conn.send(Ping(2))
                assert [message async for message in conn] == [Pong(1, 0)]
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.CLOSED


async def test_close_from_outside_wakes_a_waiting_processor() -> None:
    proto = protocol("textual")
    events = Recorder()

    async def waiting(peer: tr.Peer, messages: Any) -> None:
        async for _ in messages:
            pass

    def close_on_connect(event: Any) -> None:
        events(event)
        if isinstance(event, tr.PeerArrived):
            event.peer.close()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, waiting, on_event=close_on_connect)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                assert [message async for message in conn] == []
            await events.wait_for(tr.Disconnected)
            await server.shutdown()
    assert events.of(tr.Disconnected)[0].reason is tr.DisconnectReason.CLOSED


@pytest.mark.parametrize("codec", list(CODECS))
async def test_large_reply_bursts_to_a_late_reader_keep_their_order(
    codec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replies written straight from the reader, partly, then by the writer, stay in order."""
    import trio_reactive.engine.outbox as engine

    proto = protocol(codec)
    partial_writes: list[int] = []
    real_write = engine.os.write

    def watched_write(fd: int, data: Any) -> int:
        written = real_write(fd, data)
        if written < len(data):
            partial_writes.append(written)
        return written

    monkeypatch.setattr(engine.os, "write", watched_write)

    def burst(peer: tr.Peer, message: Any) -> Any:
        return [Pong(message.n, i) for i in range(5000)]

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, burst)
            async with tr.connect(proto, "127.0.0.1", server.port) as conn:
                for n in range(5):
                    await conn.send(Ping(n))
                await trio.sleep(0.2)  # let the socket buffers fill before reading
                received = [await conn.receive() for _ in range(25_000)]
            await server.shutdown()
    assert received == [Pong(n, i) for n in range(5) for i in range(5000)]
    assert partial_writes  # the kernel took part of a burst; the writer sent the rest


@pytest.mark.parametrize("codec", list(CODECS))
async def test_one_read_of_many_messages_keeps_every_rule_of_the_sync_handler(codec: str) -> None:
    """A raise, a list reply, a bad frame and a close, all within a single network read.

    The sync handler meets them in one batch: each reply keeps its place, the error hooks'
    replies go where the failures were, and nothing after the close is handled.
    """
    handled: list[int] = []

    def busy(peer: tr.Peer, message: Ping) -> Any:
        handled.append(message.n)
        if message.n == 2:
            raise ValueError("two")
        if message.n == 3:
            return [Pong(3, 1), Pong(3, 2)]
        if message.n == 5:
            peer.close()
        return Pong(message.n, 0)

    proto = protocol(
        codec, input_error=lambda e: Pong(901, 0), processor_error=lambda e: Pong(902, 0)
    )
    encoder = proto.side("client").codec.encoder()
    record = len(encoder.encode(Ping(1)))
    bad = {"textual": b"nonsense\n", "fixed": b"\xff" * record, "variable": b"\x01\0\0\0\xff"}
    segment = b"".join(
        [encoder.encode_batch([Ping(1), Ping(2), Ping(3)]), bad[codec]]
        + [encoder.encode(Ping(n)) for n in (4, 5, 6, 7)]
    )
    assert len(segment) < 1000  # one read, on loopback
    events = Recorder()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, busy, on_event=events)
            stream = await raw_connect(server.port)
            await stream.send_all(segment)
            data = await read_until_eof(stream)
            await server.shutdown()
    assert handled == [1, 2, 3, 4, 5]
    replies = proto.side("client").codec.decoder().decode_batch(data)
    assert replies == [
        Pong(1, 0),
        Pong(902, 0),
        Pong(3, 1),
        Pong(3, 2),
        Pong(901, 0),
        Pong(4, 0),
        Pong(5, 0),
    ]
    assert len(events.of(tr.InputError)) == len(events.of(tr.ProcessorError)) == 1
    (gone,) = events.of(tr.Disconnected)
    assert gone.reason is tr.DisconnectReason.CLOSED
