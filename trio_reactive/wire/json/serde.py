"""The textual default serde: one JSON object per message, tagged by the class name.

The wire form is Rust serde's default ("externally tagged") enum form, so a peer written with
serde, or by hand, reads and writes it without a schema: ``{"Ping":{"n":1}}``, and ``{"Quit":{}}``
for a class without fields.  Every message is tagged, even when a side has a single class, so a
protocol can grow a variant without changing the bytes of the existing ones.

Values go through one cattrs converter (the orjson preconf one, extra keys forbidden) and orjson.
The converter is made *strict* where cattrs is lenient by default, because a peer's bytes are
untrusted input: cattrs would turn ``"5"`` into ``5``, ``1.5`` into ``1``, ``"no"`` into ``True``,
``null`` into the string ``"None"`` and the string ``"ab"`` into the list ``["a", "b"]``.  Here a
value of the wrong JSON type is a :class:`DecodeError` that names the field, the expected type and
what came instead.  Other choices on the wire:

* ``bytes`` are standard, padded base64 (the preconf converter would use base85, which few other
  languages read out of the box);
* ``datetime``/``date`` are ISO 8601 strings (written by orjson, read by ``fromisoformat``);
* enums travel as their values;
* ``typing.Annotated`` metadata (binary layout hints such as ``tr.layout.U32``) is ignored;
* NaN and infinities have no JSON form: orjson refuses them on input, and encoding refuses them
  with :class:`EncodeError` instead of letting orjson write ``null``.

Everything per class is worked out once in ``__init__``: the structure and unstructure functions,
whether a class can hold a float, and generated encoding code (:class:`.encoders.EncoderSource`)
and structure functions (:class:`.decoders.DecoderSource`).  Decoding a message is
``orjson.loads``, a dict lookup by tag and the generated function, which hands anything unusual
to the strict cattrs one.
Errors are explained only on the slow path, after the fast path has failed, so naming them costs
nothing when frames are good.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import cattrs
import cattrs.gen
import orjson

from ..errors import DecodeError, EncodeError, ProtocolDefinitionError
from ..typeinfo import check_distinct_names
from .converter import default_converters, make_json_converter, shared_converter
from .decoders import DecoderSource
from .encoders import EncoderSource, describe_message, inline_fields
from .hooks import StrictHooks
from .wording import StructureHook, describe, explain, short

__all__ = ["JsonSerde", "make_json_converter"]



def _structure(payload: bytes, by_tag: Mapping[str, tuple[type, StructureHook]]) -> Any:
    """Parse one externally tagged payload and build its message with ``by_tag``'s function.

    A bare string is a message with no fields, as serde_json writes a unit variant.
    """
    obj = orjson.loads(payload)
    if type(obj) is str:
        tag, body = obj, {}
    else:
        ((tag, body),) = obj.items()
    cls, structure = by_tag[tag]
    return structure(body, cls)


class JsonSerde:
    """JSON objects externally tagged by class name, via cattrs and orjson.

    ``decode_types`` are the classes this side reads, ``encode_types`` those it writes; their
    names are the tags and must be distinct within each tuple.
    """

    __slots__ = (
        "_by_tag",
        "_encode_batch",
        "_encoders",
        "_fast_by_tag",
        "_known",
        "converter",
        "decode_types",
        "encode_types",
    )

    def __init__(
        self,
        decode_types: tuple[type, ...],
        encode_types: tuple[type, ...],
        *,
        converter: cattrs.Converter | None = None,
        serde_json: bool = False,
    ) -> None:
        if converter is not None and serde_json:
            raise ProtocolDefinitionError("JsonSerde: give a converter or serde_json, not both")
        self.converter = converter if converter is not None else shared_converter(serde_json)
        self.decode_types = tuple(decode_types)
        self.encode_types = tuple(encode_types)
        check_distinct_names(self.decode_types)
        check_distinct_names(self.encode_types)
        self._by_tag: dict[str, tuple[type, StructureHook]] = {
            cls.__name__: (cls, self.converter.get_structure_hook(cls)) for cls in self.decode_types
        }
        if converter is None:
            fast = DecoderSource(StrictHooks(self.converter)).build(self.decode_types)
            self._fast_by_tag = {tag: (cls, fast[cls]) for tag, (cls, _) in self._by_tag.items()}
        else:
            self._fast_by_tag = self._by_tag
        source = EncoderSource()
        for cls in self.encode_types:
            source.add(
                cls,
                cls.__name__,
                self.converter.get_unstructure_hook(cls),
                inline_fields(cls, self.converter) if converter is None else None,
                bare=serde_json and not any(field.init for field in attrs.fields(cls)),
            )
        self._encoders, self._encode_batch = source.build()
        self._known = ", ".join(sorted(self._by_tag)) or "(none: this side receives nothing)"

    # ---- encoding

    @property
    def payload_encoders(self) -> Mapping[type, Callable[[Any], bytes]]:
        """Each class's encoder (raising anything for a value it cannot encode)."""
        return self._encoders

    def encode(self, message: Any) -> bytes:
        """One message as a JSON object; raises :class:`EncodeError` naming the message."""
        try:
            encode = self._encoders[type(message)]
        except KeyError:
            raise EncodeError(self._not_ours(message)) from None
        try:
            return encode(message)
        except EncodeError:
            raise
        except Exception as exc:
            raise EncodeError(
                f"cannot encode {describe_message(message)}: {type(exc).__name__}: {exc}"
            ) from exc

    def encode_many(self, messages: Sequence[Any]) -> list[bytes]:
        """Every message encoded; the first one that cannot be raises :class:`EncodeError`."""
        try:
            return self._encode_batch(messages)
        except Exception:
            pass
        # Slow path, only after a failure: find the culprit and say what is wrong with it.
        for message in messages:
            self.encode(message)
        raise EncodeError("cannot encode the batch")  # pragma: no cover - failure not repeatable

    def _not_ours(self, message: Any) -> str:
        allowed = ", ".join(cls.__name__ for cls in self.encode_types) or "nothing"
        return (
            f"cannot encode {describe_message(message)}: {type(message).__qualname__} is not a "
            f"message of this protocol side (it sends {allowed})"
        )

    # ---- decoding

    def decode(self, payload: bytes) -> Any:
        """One payload to a message; raises :class:`DecodeError` saying what was wrong."""
        try:
            return _structure(payload, self._fast_by_tag)
        except Exception:
            pass
        return self._decode_strictly(payload)

    def decode_many(self, payloads: list[bytes]) -> list[Any]:
        """Every payload decoded, a :class:`DecodeError` in place of each bad one; never raises.

        The loop spells out :func:`_structure` (one call less per message on the hot path).
        """
        by_tag = self._fast_by_tag
        loads = orjson.loads
        out: list[Any] = []
        append = out.append
        for payload in payloads:
            try:
                ((tag, body),) = loads(payload).items()
                cls, structure = by_tag[tag]
                append(structure(body, cls))
            except Exception:
                try:
                    append(self._decode_strictly(payload))
                except DecodeError as error:
                    append(error)
        return out

    def _decode_strictly(self, payload: bytes) -> Any:
        """The strict way, after the fast one failed: the message, or the DecodeError raised.

        The generated structure functions raise only where the strict ones do, but not always
        the same exception; this path decides, and explains a failure from the strict one.
        """
        try:
            return _structure(payload, self._by_tag)
        except Exception:
            pass
        raise self._diagnose(payload)

    def _diagnose(self, payload: bytes) -> DecodeError:
        """Work out, step by step, why ``payload`` does not decode (the slow path)."""
        try:
            reason = self._reason(payload)
        except Exception as exc:  # the explanation itself must never escape decode_many
            reason = f"undecodable frame ({type(exc).__name__}: {short(str(exc))})"
        try:
            return DecodeError(reason, payload)
        except Exception:
            return DecodeError(reason)

    def _reason(self, payload: bytes) -> str:
        raw = bytes(payload)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            rest = text[exc.pos : exc.pos + 9].lstrip("-")
            if rest.startswith(("NaN", "Infinity")):
                return f"invalid JSON: NaN and Infinity are not JSON numbers (at char {exc.pos})"
            return f"invalid JSON: {exc}"
        if type(obj) is str:  # a message with no fields, serde_json's way
            return (
                f"expected a JSON object tagged with the message name ({self._known}), got "
                f"{describe(obj)}: only a message with no fields may be a bare string"
            )
        if type(obj) is not dict:
            return (
                f"expected a JSON object tagged with the message name ({self._known}), "
                f"got {describe(obj)}"
            )
        if len(obj) != 1:
            keys = short(", ".join(repr(key) for key in obj))
            got = f"{len(obj)} keys: {keys}" if obj else "an empty object"
            return (
                f"expected an object with exactly one key, the message tag ({self._known}), "
                f"got {got}"
            )
        ((tag, body),) = obj.items()
        if tag not in self._by_tag:
            return f"unknown message tag {short(repr(tag))}; expected one of {self._known}"
        cls, structure = self._by_tag[tag]
        try:
            structure(body, cls)
        except Exception as exc:
            # A user's converter may read a class from something else than an object.
            if type(body) is not dict and self.converter in default_converters.values():
                return f"the body of {tag} must be a JSON object, got {describe(body)}"
            return f"invalid {tag}: {explain(exc, '$.' + tag)}"
        return "undecodable frame"  # pragma: no cover - decoding is deterministic

