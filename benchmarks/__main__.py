"""``python -m benchmarks``: run the comparison, or show a saved run.

    python -m benchmarks run --quick                 # a few minutes
    python -m benchmarks run --full                  # what README.md reports (≈ 15 minutes)
    python -m benchmarks run --smoke --json out.json # seconds: proves nothing has rotted
    python -m benchmarks show RESULTS.json [--markdown]

A run prints progress on stderr, then the table of medians and ratios to trio_reactive and the
targets, and saves everything (every sample, the machine, versions, load) as JSON under
``benchmarks/results/`` unless ``--json`` names another file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from .model import CODEC_NAMES
from .peers import IMPLEMENTATIONS
from .report import markdown, print_report
from .runner import run
from .scenarios import MODES
from .stats import raise_open_files_limit

RESULTS = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run the benchmarks")
    modes = run_parser.add_mutually_exclusive_group(required=True)
    for name in MODES:
        modes.add_argument(f"--{name}", dest="mode", action="store_const", const=name)
    run_parser.add_argument("--json", type=Path, help="where to save the results "
                            "(default: benchmarks/results/<date>-<time>-<mode>.json)")
    run_parser.add_argument("--only", help="comma-separated scenario keys or prefixes "
                            "(flood, echo, pingpong, many, cpu, idle, many-1000, ...)")
    run_parser.add_argument("--codecs", default=",".join(CODEC_NAMES),
                            help="comma-separated codecs (default: all)")
    run_parser.add_argument("--implementations",
                            default=",".join(i.name for i in IMPLEMENTATIONS),
                            help="comma-separated implementations (default: all)")
    show = commands.add_parser("show", help="print the table of a saved run")
    show.add_argument("results", type=Path)
    show.add_argument("--markdown", action="store_true", help="GitHub markdown, for README.md")
    return parser


def main(argv: list[str]) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "show":
        results = json.loads(arguments.results.read_text())
        if arguments.markdown:
            print(markdown(results))
        else:
            print_report(results)
        return 0
    raise_open_files_limit()
    results = run(
        MODES[arguments.mode],
        implementations=arguments.implementations.split(","),
        codecs=arguments.codecs.split(","),
        only=arguments.only.split(",") if arguments.only else None,
    )
    path = arguments.json or RESULTS / (
        f"{datetime.now():%Y-%m-%d-%H%M%S}-{arguments.mode}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    print_report(results)
    print(f"results saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
