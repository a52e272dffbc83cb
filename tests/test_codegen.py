"""Generated fast paths can be read: their source is kept, for tracebacks and for a look."""

from __future__ import annotations

import inspect
import traceback

from tests.models import Move, Ping
from trio_reactive.wire.codec import FixedBinary, Textual
from trio_reactive.wire.codegen import Source, source_of


def test_a_generated_function_shows_its_source() -> None:
    source = Source("double")
    with source.block("def double(x):"):
        source.line(f"return {source.const(2, 'two')} * x")
    double = source.compile()
    assert double(21) == 42
    assert source_of(double) == "def double(x):\n    return _two1 * x\n"
    assert inspect.getsource(double) == source_of(double)
    assert source_of(test_a_generated_function_shows_its_source) == ""


def test_a_failure_in_generated_code_has_its_line_in_the_traceback() -> None:
    source = Source("fail")
    with source.block("def fail():"):
        source.line("return 1 // 0  # the generated line")
    try:
        source.compile()()
    except ZeroDivisionError as exc:
        assert "# the generated line" in "".join(traceback.format_exception(exc))


def test_the_serdes_fast_paths_are_generated_through_it() -> None:
    fixed = FixedBinary().compile((Ping, Move), (Ping, Move)).serde
    textual = Textual().compile((Ping,), (Ping,)).serde
    generated = [
        source_of(fixed._decoders[0]),  # type: ignore[attr-defined]
        source_of(textual._encode_batch),  # type: ignore[attr-defined]
    ]
    assert all(text.startswith("def ") for text in generated)
