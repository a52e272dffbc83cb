"""Memory and CPU stay bounded whatever the peer does.

A peer that pipelines requests with large answers, or never reads, must not make the engine
queue more than its byte bounds; a finished connection must be freed by reference counting
alone; a producer facing a full queue under ``do_not_retry`` must wait, not spin.
"""

from __future__ import annotations

import contextlib
import gc
import tracemalloc
import weakref
from typing import Any

import pytest
import trio

import trio_reactive as tr
from tests.defect_support import Ask, Big, RawPeer, big, settled
from tests.engine_support import CODECS, reset_on_close, start_server

pytestmark = pytest.mark.timeout(60)

KIB = 1 << 10
MIB = 1 << 20
_BIG_CODECS = ["textual", "variable"]  # the fixed codec carries no ``bytes``

#: What the tests allow besides the engine's queues: the client's decoding, the kernel-facing
#: buffers of one read or write, the interpreter's own churn.
_SLACK = 4 * MIB


def _big_protocol(codec: str) -> tr.Protocol:
    return tr.Protocol(client=Ask, server=Big, codec=CODECS[codec])


def _encoded_size(proto: tr.Protocol, message: Any) -> int:
    return len(proto.side("server").codec.encoder().encode(message))


class PendingWatch:
    """Answers each ``Ask`` with a large reply and records the most ``pending_bytes`` seen."""

    def __init__(self, reply_size: int) -> None:
        self.reply_size = reply_size
        self.calls = 0
        self.most_pending = 0

    def answer(self, peer: tr.Peer, message: Ask) -> Big:
        self.most_pending = max(self.most_pending, peer.pending_bytes)
        self.calls += 1
        return big(message.n, self.reply_size)


async def _pipeline_then_read(
    proto: tr.Protocol, processor: Any, watch: PendingWatch, config: tr.Config, requests: int
) -> tuple[list[int], int]:
    """Pipeline ``requests`` asks to a server that answers them with ``processor``, read late.

    Half the asks go in one write; once the server is stuck (it has filled what it may fill:
    its queue and the kernel's buffers), the other half in another; only then does the client
    read, keeping only the numbers of the replies.  Returns those numbers and the peak of
    memory allocated meanwhile (client included).
    """
    arrived: list[int] = []
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, processor, config=config)
            client = await RawPeer.open(server.port, proto)
            decoder = proto.side("client").codec.decoder(4 * MIB)
            half = requests // 2
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                await client.send([Ask(n) for n in range(half)])
                while not watch.calls:
                    await trio.lowlevel.checkpoint()
                await settled(lambda: watch.calls)
                await client.send([Ask(n) for n in range(half, requests)])
                while len(arrived) < requests:
                    data = await client.stream.receive_some()
                    assert data, "the server closed early"
                    arrived.extend(message.n for message in decoder.decode_batch(data))
                peak = tracemalloc.get_traced_memory()[1] - base
            finally:
                tracemalloc.stop()
            await client.aclose()
            await server.shutdown()
    return arrived, peak


@pytest.mark.parametrize("codec", _BIG_CODECS)
async def test_a_sync_handlers_replies_to_one_read_respect_the_outgoing_byte_bound(
    codec: str,
) -> None:
    """Hundreds of small pipelined requests (a few KB, two reads) whose replies are 64 KiB
    each, to a client that does not read yet: queued outgoing bytes never exceed
    ``outgoing_capacity_bytes`` plus one reply, also in the middle of a read's batch, and
    neither does the memory the replies take (the 300 replies are about 20 MB)."""
    proto = _big_protocol(codec)
    config = tr.Config(outgoing_capacity_bytes=256 * KIB)
    watch = PendingWatch(64 * KIB)
    arrived, peak = await _pipeline_then_read(proto, watch.answer, watch, config, 300)
    assert arrived == list(range(300))
    bound = config.outgoing_capacity_bytes + _encoded_size(proto, big(0, 64 * KIB))
    assert watch.most_pending <= bound
    assert peak <= bound + _SLACK, f"{peak / MIB:.1f} MiB allocated at the peak"


def test_the_default_bounds_suit_thousands_of_connections() -> None:
    """A slow reader may cost the server its queues' byte bounds: keep the defaults small."""
    config = tr.Config()
    assert config.outgoing_capacity_bytes == 64 * KIB
    assert config.incoming_capacity_bytes == 128 * KIB
    assert config.close_timeout == 10.0


@pytest.mark.parametrize("codec", _BIG_CODECS)
async def test_a_slow_reader_costs_at_most_the_default_bounds(codec: str) -> None:
    """At the default configuration, a client that pipelines many requests and reads late
    holds at most 64 KiB plus one reply in the outgoing queue, and the memory of at most
    64 KiB + 128 KiB + one reply in all the engine's queues.

    The processor is a stream processor, so every reply goes through the outgoing queue.
    """
    proto = _big_protocol(codec)
    watch = PendingWatch(16 * KIB)

    async def answer_each(peer: tr.Peer, messages: Any) -> Any:
        async for message in messages:
            yield watch.answer(peer, message)

    requests = 600  # about 10 MB of replies: more than the kernel's buffers hold
    arrived, peak = await _pipeline_then_read(proto, answer_each, watch, tr.Config(), requests)
    assert arrived == list(range(requests))
    reply = _encoded_size(proto, big(0, 16 * KIB))
    assert watch.most_pending <= 64 * KIB + reply
    assert peak <= 64 * KIB + 128 * KIB + reply + _SLACK, f"{peak / MIB:.1f} MiB at the peak"


# -- a finished connection is freed by reference counting -----------------------------------


def _oversize_line(size: int) -> bytes:
    return b'{"Ask":{"n":' + b"1" * size  # a line that never ends


@pytest.mark.parametrize("ending", ["peer-closed", "frame-too-large"])
async def test_a_finished_connection_is_freed_without_a_garbage_collection(ending: str) -> None:
    """With the cycle collector off, the ``Peer`` of a connection that ended (normally, or
    with ``FRAME_TOO_LARGE`` after buffering 1.5 MB of an unfinished frame) dies as soon as
    the server forgets it, and the memory of its buffers is returned."""
    proto = tr.Protocol(client=Ask, server=Big, codec=CODECS["textual"])
    seen: list[weakref.ref[tr.Peer]] = []
    ended = trio.Event()

    def answer(peer: tr.Peer, message: Ask) -> Big:
        seen.append(weakref.ref(peer))
        return big(message.n, 16)

    def on_event(event: Any) -> None:  # keeps no event: an event holds its peer
        if isinstance(event, tr.Disconnected):
            ended.set()

    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                server = await start_server(nursery, proto, answer, on_event=on_event)
                client = await RawPeer.open(server.port, proto)
                await client.send([Ask(1)])
                await client.receive(1)
                before = tracemalloc.get_traced_memory()[0]
                if ending == "peer-closed":
                    await client.stream.send_eof()
                else:
                    await client.stream.send_all(_oversize_line(1_500_000))
                with contextlib.suppress(trio.BrokenResourceError):
                    await client.receive_until_eof()
                await client.aclose()
                await ended.wait()
                await server.shutdown()
                del server, client
                assert len(seen) == 1
                assert seen[0]() is None, "the peer is kept alive by a reference cycle"
                after = tracemalloc.get_traced_memory()[0]
                assert after - before < 256 * KIB, f"{(after - before) / KIB:.0f} KiB kept"
    finally:
        tracemalloc.stop()
        gc.enable()


# -- a producer facing a full queue waits -----------------------------------------------------


@pytest.mark.parametrize("codec", _BIG_CODECS)
async def test_a_never_ending_producer_under_do_not_retry_waits_instead_of_spinning(
    codec: str,
) -> None:
    """An async generator that yields forever, ``do_not_retry`` outgoing, a client that never
    reads: once the queue is full a message is dropped (and counted), then the producer waits
    for room instead of trying again and again."""
    proto = _big_protocol(codec)
    config = tr.Config(outgoing_retry=tr.RetryPolicy.do_not_retry())
    produced = [0]

    async def forever(peer: tr.Peer, messages: Any) -> Any:
        while True:
            produced[0] += 1
            yield big(produced[0], 16 * KIB)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, proto, forever, config=config)
            client = await RawPeer.open(server.port, proto)
            await client.send([Ask(0)])
            while not produced[0]:
                await trio.lowlevel.checkpoint()
            waits = await settled(lambda: produced[0])  # the kernel's buffers fill first
            (peer,) = server.peers
            dropped_out = peer.dropped[1]
            reset_on_close(client.stream)
            await client.aclose()
            await server.shutdown()
    assert waits, f"the producer never waited: {produced[0]} messages yielded"
    assert dropped_out > 0
