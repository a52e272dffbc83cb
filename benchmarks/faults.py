"""A catalogue of faults against a live server: ``python -m benchmarks.faults [--smoke]``.

Each case runs against :mod:`benchmarks.proof_server` in a process of its own (a fresh one, or
one shared with the cases that need the same settings), does one bad thing to it and checks
what the server made of it: the ``Disconnected`` (or ``Rejected``) event of the connection,
exactly once and with the right reason; the server alive and still answering; and nothing left
behind, the server's open descriptors and trio tasks back to what they were, no peer left.  A
case that needs a setting ``Config`` does not have says "not available" rather than pass for
what it did not check.  Prints a table; exits non-zero if a case failed.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

import trio_reactive as tr

from .fault_checks import (
    FAILED,
    NOT_AVAILABLE,
    STEP_TIMEOUT,
    Checks,
    Outcome,
    Scale,
    client_hello,
    close_shared,
    exactly_once,
    local_port,
    nothing_left,
    reasons,
    receive_exactly,
    round_trip,
    serving,
    tls_arguments,
    tls_files,
    until_closed,
)
from .model import Ping, Pong, protocol_for
from .proof_client import ProofServer, valid_frames
from .wire import client_wire

__all__ = ["CASES", "main", "run"]

SMOKE = Scale(messages=5000, connections=40, nofile=40, handshake_timeout=1.0)
FULL = Scale(messages=100_000, connections=300, nofile=64, handshake_timeout=5.0)

# -- the cases ---------------------------------------------------------------------------


async def reset_mid_frame(scale: Scale, checks: Checks) -> None:
    """Two whole frames and half of a third, then a reset (SO_LINGER 0): ``RESET``."""
    with serving("--services", "fixed,textual,variable") as server:
        before = await server.settled()
        port = server.ports["fixed"]
        with trio.fail_after(STEP_TIMEOUT):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            client = local_port(stream)
            two = valid_frames("fixed", 0, 2)
            await stream.send_all(two + valid_frames("fixed", 2, 1)[:9])
            replies = await receive_exactly(stream, len(two))
            checks.expect(len(replies) == len(two), "the two whole frames were not answered")
            linger = struct.pack("ii", 1, 0)
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            await stream.aclose()
        await nothing_left(server, before, checks)
        exactly_once(checks, reasons(server, client), {"RESET"}, "Disconnected")
        checks.expect(await round_trip(port), "the server stopped answering")


async def half_close_slow_reader(scale: Scale, checks: Checks) -> None:
    """Many requests, then EOF, replies read slowly all along: every one arrives (PEER_CLOSED)."""
    with serving("--services", "fixed,textual,variable") as server:
        before = await server.settled()
        count = client_wire("textual").counter()
        received = 0
        with trio.fail_after(STEP_TIMEOUT * 3):
            stream = await trio.open_tcp_stream("127.0.0.1", server.ports["textual"])
            client = local_port(stream)
            async with stream, trio.open_nursery() as nursery:

                async def send_then_eof() -> None:
                    # Concurrently with the reading: a server whose replies are not read stops
                    # reading too (backpressure), and a client that only sent would wait for ever.
                    await stream.send_all(valid_frames("textual", 0, scale.messages))
                    await stream.send_eof()

                nursery.start_soon(send_then_eof)
                while data := await stream.receive_some(4096):
                    received += count(data)
                    await trio.sleep(0.0005)
        checks.expect(received == scale.messages, f"{received} of {scale.messages} replies")
        checks.note(f"{received}/{scale.messages} replies")
        await nothing_left(server, before, checks)
        exactly_once(checks, reasons(server, client), {"PEER_CLOSED"}, "Disconnected")


async def server_restart(scale: Scale, checks: Checks) -> None:
    """The server is killed and started again on its port: ``run_client(reconnect=...)`` goes on."""
    first = ProofServer("--services", "fixed")
    second: ProofServer | None = None
    replies: list[int] = []
    client_events: list[tr.Event] = []
    halfway, wanted = 20, 40
    reached_halfway = trio.Event()
    sequence = iter(range(1 << 30))

    async def pinger(peer: tr.Peer, pongs: Any) -> None:
        await peer.send(Ping(next(sequence), 0, 0.5, 1))
        async for pong in pongs:
            replies.append(pong.seq)
            if len(replies) == halfway:
                reached_halfway.set()
            if len(replies) >= wanted:
                return
            await trio.sleep(0.005)
            await peer.send(Ping(next(sequence), 0, 0.5, 1))

    try:
        baseline = await first.settled()
        port = first.ports["fixed"]
        policy = tr.RetryPolicy.backoff(attempts=60, initial_delay=0.05)
        with trio.fail_after(STEP_TIMEOUT * 2):
            async with trio.open_nursery() as nursery:
                ended: list[tr.DisconnectReason] = []

                async def client() -> None:
                    reason = await tr.run_client(
                        protocol_for("fixed"),
                        pinger,
                        "127.0.0.1",
                        port,
                        on_event=client_events.append,
                        reconnect=policy,
                    )
                    ended.append(reason)

                nursery.start_soon(client)
                await reached_halfway.wait()
                first.kill()
                second = await trio.to_thread.run_sync(
                    ProofServer, "--services", "fixed", "--ports", str(port)
                )
        connected = [e for e in client_events if isinstance(e, tr.Connected)]
        gone = [e.reason.name for e in client_events if isinstance(e, tr.Disconnected)]
        checks.expect(ended == [tr.DisconnectReason.PROCESSOR_ENDED], f"run_client ended {ended}")
        checks.expect(len(connected) == 2, f"{len(connected)} connections, wanted 2")
        checks.expect(
            len(gone) == 2 and gone[0] in {"RESET", "PEER_CLOSED"} and gone[1] == "PROCESSOR_ENDED",
            f"client Disconnected {gone}",
        )
        checks.expect(replies == sorted(replies), "replies out of order")
        checks.expect(len(replies) >= wanted, f"{len(replies)} replies, wanted {wanted}")
        checks.note(f"client Disconnected {gone}, {len(replies)} replies")
        assert second is not None
        await nothing_left(second, baseline, checks)
        served = [e["reason"] for e in second.events if e["event"] == "Disconnected"]
        exactly_once(checks, served, {"PEER_CLOSED"}, "restarted server's Disconnected")
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def emfile(scale: Scale, checks: Checks) -> None:
    """A server with few descriptors: newcomers are turned away at once (``Rejected``), the
    connections it holds are served throughout, and it serves again once they close."""
    server = ProofServer("--services", "fixed", "--nofile", str(scale.nofile))
    held: list[tuple[trio.SocketStream, int]] = []
    turned_away: list[int] = []
    slowest_refusal = 0.0
    try:
        before = await server.settled()
        port = server.ports["fixed"]
        with trio.fail_after(STEP_TIMEOUT * 2):
            for seq in range(scale.connections):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(valid_frames("fixed", seq, 1))
                started = trio.current_time()
                try:
                    with trio.fail_after(5):
                        reply = await stream.receive_some(65536)
                except trio.BrokenResourceError:
                    reply = b""
                if reply:
                    held.append((stream, local_port(stream)))
                else:
                    slowest_refusal = max(slowest_refusal, trio.current_time() - started)
                    turned_away.append(local_port(stream))
                    await stream.aclose()
            for seq, (stream, _) in enumerate(held):
                await stream.send_all(valid_frames("fixed", seq, 1))
                checks.expect(bool(await stream.receive_some(65536)), "a held peer went silent")
            for stream, _ in held:
                await stream.aclose()
        checks.expect(
            bool(held) and bool(turned_away), f"{len(held)} held, {len(turned_away)} away"
        )
        checks.note(
            f"{len(held)} served, {len(turned_away)} turned away "
            f"(slowest in {slowest_refusal * 1000:.0f} ms)"
        )
        checks.expect(slowest_refusal < 1.0, "a newcomer waited over 1 s to be turned away")
        await server.settled()
        served_again = await round_trip(port)  # the first newcomer after recovery is served
        checks.expect(served_again, "the server did not serve again")
        await nothing_left(server, before, checks)
        for client in turned_away:
            got = reasons(server, client, "Rejected")
            checks.expect(got == ["TOO_MANY_CONNECTIONS"], f"Rejected for {client}: {got}")
        for _, client in held:
            got = reasons(server, client)
            checks.expect(got == ["PEER_CLOSED"], f"Disconnected for {client}: {got}")
        checks.note("Rejected TOO_MANY_CONNECTIONS once each, Disconnected PEER_CLOSED once each")
    finally:
        for stream, _ in held:
            await stream.aclose()
        server.stop()


async def slowloris_tls(scale: Scale, checks: Checks) -> None:
    """A TLS client sending its hello 1 byte/s is closed by ``handshake_timeout``."""
    timeout = scale.handshake_timeout
    with serving(*tls_arguments(scale)) as server:
        before = await server.settled()
        hello = client_hello()
        with trio.fail_after(timeout + STEP_TIMEOUT):
            stream = await trio.open_tcp_stream("127.0.0.1", server.ports["fixed"])
            client = local_port(stream)
            started = trio.current_time()
            closed_after = 0.0
            async with stream, trio.open_nursery() as nursery:

                async def dribble() -> None:
                    for byte in hello:
                        try:
                            await stream.send_all(bytes([byte]))
                        except (trio.BrokenResourceError, trio.ClosedResourceError):
                            return
                        await trio.sleep(1.0)

                nursery.start_soon(dribble)
                await until_closed(stream)
                closed_after = trio.current_time() - started
                nursery.cancel_scope.cancel()
        checks.expect(
            timeout * 0.9 <= closed_after <= timeout + 2, f"closed after {closed_after:.1f} s"
        )
        checks.note(f"closed after {closed_after:.1f} s (handshake_timeout {timeout:g} s)")
        await nothing_left(server, before, checks)
        exactly_once(checks, reasons(server, client, "Rejected"), {"HANDSHAKE_TIMEOUT"}, "Rejected")
        checks.expect(not server.events_of(client, "Connected"), "it became a peer")


def _idle_timeout_available() -> bool:
    return hasattr(tr.Config(), "idle_timeout")


async def slowloris_plain(scale: Scale, checks: Checks) -> str | None:
    """A plain client sending a line 1 byte/s: only an idle timeout shorter than a second
    could catch it, and only when ``Config`` has one."""
    if not _idle_timeout_available():
        return "Config has no idle_timeout; handshake_timeout covers TLS handshakes only"
    with serving("--services", "textual", "--idle-timeout", "0.5", shared=False) as server:
        before = await server.settled()
        with trio.fail_after(STEP_TIMEOUT):
            stream = await trio.open_tcp_stream("127.0.0.1", server.ports["textual"])
            client = local_port(stream)
            async with stream, trio.open_nursery() as nursery:

                async def dribble() -> None:
                    for byte in valid_frames("textual", 0, 1):
                        try:
                            await stream.send_all(bytes([byte]))
                        except (trio.BrokenResourceError, trio.ClosedResourceError):
                            return
                        await trio.sleep(1.0)

                nursery.start_soon(dribble)
                await until_closed(stream)
                nursery.cancel_scope.cancel()
        await nothing_left(server, before, checks)
        seen = reasons(server, client)
        checks.expect(
            len(seen) == 1 and ("IDLE" in seen[0] or "TIMEOUT" in seen[0]), f"Disconnected {seen}"
        )
        checks.note(f"1 byte/s, idle_timeout 0.5 s: Disconnected {seen}")
    return None


async def silent_vanish(scale: Scale, checks: Checks) -> str | None:
    """A peer that stops answering (no FIN, no reset) is closed by the idle timeout."""
    if not _idle_timeout_available():
        return "Config has no idle_timeout or heartbeat; the kernel's keepalive is all there is"
    with serving("--services", "fixed", "--idle-timeout", "1", shared=False) as server:
        before = await server.settled()
        with trio.fail_after(STEP_TIMEOUT):
            stream = await trio.open_tcp_stream("127.0.0.1", server.ports["fixed"])
            client = local_port(stream)
            async with stream:
                await stream.send_all(valid_frames("fixed", 0, 1))
                await stream.receive_some(65536)
                started = trio.current_time()
                await until_closed(stream)  # the client says nothing from here on
                checks.note(f"closed after {trio.current_time() - started:.1f} s")
        await nothing_left(server, before, checks)
        seen = reasons(server, client)
        checks.expect(
            len(seen) == 1 and ("IDLE" in seen[0] or "HEARTBEAT" in seen[0]), f"Disconnected {seen}"
        )
        checks.note(f"Disconnected {seen}")
    return None


async def tls_to_plain(scale: Scale, checks: Checks) -> None:
    """A TLS client on a plain port: the hello is garbage to the codec, the server says so."""
    tls = tls_files()
    with serving("--services", "fixed,textual,variable") as server:
        first_event = len(server.events)
        before = await server.settled()
        port = server.ports["variable"]
        config = tr.Config(connect_timeout=2.0)
        failure = "none"
        with trio.fail_after(STEP_TIMEOUT):
            try:
                async with tr.connect(
                    protocol_for("variable"),
                    "127.0.0.1",
                    port,
                    config=config,
                    ssl_context=tls.client_context(),
                ) as connection:
                    await connection.send(Ping(0, 0, 0.0, 1))
            except Exception as exc:  # what the client sees is reported, not judged
                failure = type(exc).__name__
        checks.expect(failure != "none", "the TLS client believed it was connected")
        checks.note(f"client: {failure}")
        await nothing_left(server, before, checks)
        seen = [e["reason"] for e in server.events[first_event:] if e["event"] == "Disconnected"]
        exactly_once(checks, seen, {"FRAME_TOO_LARGE", "INPUT_ERROR"}, "Disconnected")
        checks.expect(await round_trip(port, "variable"), "the server stopped answering")


async def plain_to_tls(scale: Scale, checks: Checks) -> None:
    """Plain frames on a TLS port: ``Rejected`` with ``HANDSHAKE_FAILED``, then TLS still works."""
    tls = tls_files()
    with serving(*tls_arguments(scale)) as server:
        before = await server.settled()
        port = server.ports["fixed"]
        with trio.fail_after(STEP_TIMEOUT):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            client = local_port(stream)
            async with stream:
                await stream.send_all(valid_frames("fixed", 0, 3))
                await until_closed(stream)
        await nothing_left(server, before, checks)
        exactly_once(checks, reasons(server, client, "Rejected"), {"HANDSHAKE_FAILED"}, "Rejected")
        checks.expect(not server.events_of(client, "Connected"), "it became a peer")
        with trio.fail_after(STEP_TIMEOUT):
            async with tr.connect(
                protocol_for("fixed"), "127.0.0.1", port, ssl_context=tls.client_context()
            ) as connection:
                await connection.send(Ping(7, 0, 0.0, 1))
                pong = await connection.receive()
        checks.expect(pong == Pong(7, 0, 0.0, 1), f"TLS answered {pong!r}")
        checks.note("a TLS client is served afterwards")


Case = Callable[[Scale, Checks], Awaitable[str | None]]
CASES: dict[str, Case] = {
    "reset mid-frame": reset_mid_frame,
    "half-close + slow reader": half_close_slow_reader,
    "server restart": server_restart,
    "EMFILE": emfile,
    "slowloris (TLS)": slowloris_tls,
    "slowloris (plain)": slowloris_plain,
    "silent vanish": silent_vanish,
    "TLS to a plain port": tls_to_plain,
    "plain to a TLS port": plain_to_tls,
}


async def run(scale: Scale, only: list[str] | None = None) -> list[Outcome]:
    outcomes = []
    for name, case in CASES.items():
        if only and name not in only:
            continue
        checks = Checks()
        started = trio.current_time()
        try:
            missing = await case(scale, checks)
        except Exception as exc:
            checks.expect(False, f"raised {type(exc).__name__}: {exc}")
            missing = None
        outcome = Outcome(name, NOT_AVAILABLE, missing) if missing else checks.outcome(name)
        outcomes.append(attrs.evolve(outcome, seconds=trio.current_time() - started))
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    width = max((len(o.case) for o in outcomes), default=4)
    lines = [f"{'case':<{width}}  {'result':<13}  {'time':>6}  detail", "-" * (width + 48)]
    lines += [f"{o.case:<{width}}  {o.status:<13}  {o.seconds:5.1f}s  {o.detail}" for o in outcomes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults")
    parser.add_argument("--smoke", action="store_true", help="every case, briefly")
    parser.add_argument("--only", default="", help="comma-separated case names (see the table)")
    options = parser.parse_args(argv)
    only = [name.strip() for name in options.only.split(",") if name.strip()] or None
    try:
        outcomes = trio.run(run, SMOKE if options.smoke else FULL, only)
    finally:
        close_shared()
    print(table(outcomes))
    return 1 if any(o.status == FAILED for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
