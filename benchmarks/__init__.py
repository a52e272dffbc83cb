"""Benchmarks: trio_reactive against hand-written peers doing the same work.

Run ``python -m benchmarks run --quick`` (or ``python3 dev.py bench run --full``); see
``benchmarks/README.md`` for what each scenario measures and the latest results.
"""
