"""The appendix "Wire formats, byte by byte" is checked: every hex example against the codecs.

Each ```hex block of ``book/src/wire-spec.md`` starts with ``encode <codec> <side> <message>``
or ``reject <codec> <side> <part of the reason>``, then the frame: hex bytes (comments after
``#``) or, for the textual codec, the line itself.  The message classes are the appendix's own
first ```python block, run here.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

import trio_reactive as tr
from trio_reactive.errors import DecodeError
from trio_reactive.wire.model import variants_of

SPEC = Path(__file__).resolve().parent.parent / "book" / "src" / "wire-spec.md"
CODECS: dict[str, Any] = {
    "textual": tr.Textual(),
    "fixed": tr.FixedBinary(),
    "variable": tr.VariableBinary(),
    "raw": tr.Raw(),
}
_BLOCK = re.compile(r"^```(?P<info>\w+)\n(?P<body>.*?)^```$", re.M | re.S)


@attrs.frozen
class Example:
    line: int
    kind: str
    codec: str
    side: str
    rest: str
    frame: bytes

    @property
    def id(self) -> str:
        return f"line {self.line}: {self.kind} {self.codec} {self.rest[:40]}"


def _blocks(info: str) -> list[tuple[int, str]]:
    text = SPEC.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, found.start()) + 1, found["body"])
        for found in _BLOCK.finditer(text)
        if found["info"] == info
    ]


def _examples() -> list[Example]:
    examples = []
    for line, body in _blocks("hex"):
        header, *lines = body.splitlines()
        kind, codec, side, rest = header.split(maxsplit=3)
        if codec == "textual":
            frame = b"".join(text.encode() + b"\n" for text in lines)
        else:
            tokens = " ".join(text.split("#", 1)[0] for text in lines).split()
            frame = bytes.fromhex("".join(tokens))
        examples.append(Example(line, kind, codec, side, rest, frame))
    return examples


def _namespace() -> dict[str, Any]:
    (_, models), *_ = _blocks("python")
    namespace: dict[str, Any] = {"__name__": "wire_spec"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(models, str(SPEC), "exec", dont_inherit=True), namespace)
    return namespace


NAMESPACE = _namespace()
EXAMPLES = _examples()


def test_the_appendix_has_examples_of_every_codec_and_of_refusals() -> None:
    assert {example.codec for example in EXAMPLES} >= {"textual", "fixed", "variable"}
    assert {example.kind for example in EXAMPLES} == {"encode", "reject"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.id)
def test_an_example_is_what_the_codec_does(example: Example) -> None:
    classes = variants_of(eval(example.side, NAMESPACE))
    built = CODECS[example.codec].compile(classes, classes)
    if example.kind == "encode":
        message = eval(example.rest, NAMESPACE)
        assert built.encoder().encode(message).hex(" ") == example.frame.hex(" ")
        assert built.decoder().decode_batch(example.frame) == [message]
    else:
        [refused] = built.decoder().decode_batch(example.frame)
        assert isinstance(refused, DecodeError)
        assert example.rest in refused.reason
