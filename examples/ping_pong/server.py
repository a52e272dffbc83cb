"""The server's entry points: serve matches, report each one as it ends, shut down gracefully."""

from __future__ import annotations

import trio

import trio_reactive as tr

from .processors import CONNECTION_CONFIG, Host, Match, seeded_draws

__all__ = ["run_server", "serve"]


async def serve(
    host: Host,
    port: int = 0,
    address: str | None = None,
    *,
    task_status: trio.TaskStatus[tr.Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``host``'s matches on ``address:port`` until cancelled or ``server.shutdown()``.

    Start it with ``server = await nursery.start(serve, host, 0)``: port 0 picks a free port.
    """
    await tr.serve_tcp(
        host.service,
        None,
        port,
        address,
        config=CONNECTION_CONFIG,
        on_event=host.on_event,
        task_status=task_status,
    )


def run_server(port: int, address: str | None, codec: tr.Codec, seed: int | None = None) -> None:
    """Serve until SIGINT or SIGTERM, printing each match; then shut down, so that every guest
    still playing hears ``ServerShutdown`` before its connection closes."""

    def report(match: Match) -> None:
        print(f"match with {match.address:<21} {match.describe()}", flush=True)

    def listening(server: tr.Server) -> None:
        print(
            f"ping-pong server on {address or '*'}:{server.port}, game stage over {codec.name}"
            " (Ctrl+C to stop)",
            flush=True,
        )

    host = Host(codec, draws=seeded_draws(seed, "host"), on_match_end=report)
    stopped_by = tr.run_server(
        host.service,
        port=port,
        host=address,
        config=CONNECTION_CONFIG,
        on_event=host.on_event,
        grace=1.0,
        on_listening=listening,
    )
    print(f"ping-pong server stopped by {stopped_by.name}", flush=True)
