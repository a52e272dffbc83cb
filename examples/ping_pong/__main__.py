"""Command line: a server and N concurrent clients in one process, or either of them alone.

    python -m examples.ping_pong                              # server + 4 clients, one process
    python -m examples.ping_pong --clients 16 --score-limit 500 --codec textual
    python -m examples.ping_pong server --port 9760           # then, from another terminal:
    python -m examples.ping_pong client --port 9760 --clients 8

Each match prints one line when it ends, with its game-stage messages in and out per second;
the summary adds them up over all clients: the original's benchmark figure.  Both ends must use
the same ``--codec`` (it only applies to the game stage: the pre-game stage is always textual).
"""

from __future__ import annotations

import argparse

import trio

import trio_reactive as tr

from .client import run_clients
from .models import MatchConfig
from .processors import Host, seeded_draws
from .server import run_server, serve

__all__ = ["main"]

CODECS: dict[str, tr.Codec] = {
    "textual": tr.Textual(),
    "fixed": tr.FixedBinary(),
    "variable": tr.VariableBinary(),
}
DEFAULT_PORT = 9760
#: The original played to 15000; this keeps the default run to a few seconds.
DEFAULT_SCORE_LIMIT = 100


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    wire = argparse.ArgumentParser(add_help=False)
    wire.add_argument(
        "--codec", choices=sorted(CODECS), default="fixed", help="the game stage's wire form"
    )
    wire.add_argument("--seed", type=int, help="make the lucky numbers reproducible")
    play = argparse.ArgumentParser(add_help=False)
    play.add_argument("--clients", type=_positive, default=4, help="concurrent matches (default 4)")
    play.add_argument(
        "--score-limit",
        type=_positive,
        default=DEFAULT_SCORE_LIMIT,
        help=f"points that win a match (default {DEFAULT_SCORE_LIMIT}; the original used 15000)",
    )
    play.add_argument(
        "--rally-timeout",
        type=int,
        default=1000,
        metavar="MILLIS",
        help="how long the server waits for a guest's stroke (0: forever)",
    )
    endpoint = argparse.ArgumentParser(add_help=False)
    endpoint.add_argument("--port", type=int, default=DEFAULT_PORT)

    parser = argparse.ArgumentParser(
        prog="python -m examples.ping_pong",
        description="Ping-pong matches between a trio_reactive server and its clients.",
        parents=[wire, play],
    )
    modes = parser.add_subparsers(dest="mode", title="run one side alone")
    server = modes.add_parser("server", parents=[wire, endpoint], help="serve matches")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    client = modes.add_parser("client", parents=[wire, play, endpoint], help="play matches")
    client.add_argument("--host", default="127.0.0.1", help="the server's address")
    return parser


async def _both(args: argparse.Namespace) -> None:
    """Server and clients in one process: the server listens on any free local port."""
    codec = CODECS[args.codec]
    async with trio.open_nursery() as nursery:
        host = Host(codec, draws=seeded_draws(args.seed, "host"))
        server: tr.Server = await nursery.start(serve, host, 0, "127.0.0.1")
        print(
            f"ping-pong: {args.clients} clients against a server on 127.0.0.1:{server.port}, "
            f"game stage over {codec.name}, score limit {args.score_limit}",
            flush=True,
        )
        await run_clients(
            "127.0.0.1",
            server.port,
            clients=args.clients,
            config=_match_config(args),
            codec=codec,
            seed=args.seed,
        )
        await server.shutdown()


def _match_config(args: argparse.Namespace) -> MatchConfig:
    return MatchConfig(score_limit=args.score_limit, rally_timeout_millis=args.rally_timeout)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.mode == "server":
        run_server(args.port, args.host, CODECS[args.codec], args.seed)
    elif args.mode == "client":
        config = _match_config(args)
        trio.run(
            lambda: run_clients(
                args.host,
                args.port,
                clients=args.clients,
                config=config,
                codec=CODECS[args.codec],
                seed=args.seed,
            )
        )
    else:
        trio.run(_both, args)


if __name__ == "__main__":
    main()
