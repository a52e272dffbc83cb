"""Serdes: one frame's payload to one message and back.

A user serde needs only ``encode(message) -> bytes`` and ``decode(payload) -> message``
(:class:`Serde`).  The built-in ones also offer batch entry points (:class:`BatchSerde`) that
loop in one place with every lookup hoisted out of the loop; :func:`as_batch_serde` gives a user
serde the same shape, turning whatever its ``decode`` raises into a :class:`DecodeError` value so
that one bad frame never stops the frames after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from .errors import DecodeError, EncodeError

__all__ = ["BatchSerde", "Serde", "as_batch_serde"]


@runtime_checkable
class Serde(Protocol):
    """The smallest serde: any object with these two methods plugs into a framer."""

    def encode(self, message: Any) -> bytes:
        """The payload of one message (the framer delimits it); raise ``EncodeError`` for a
        message this serde cannot carry."""
        ...

    def decode(self, payload: bytes) -> Any:
        """The message one payload holds; raise any exception for a bad payload (the engine
        reports it as a ``DecodeError`` and goes on with the next frame)."""
        ...


@runtime_checkable
class BatchSerde(Serde, Protocol):
    """A serde with batch entry points, as the engine calls it."""

    def encode_many(self, messages: Sequence[Any]) -> list[bytes]:
        """Encode every message; raise :class:`EncodeError` naming the first that cannot be."""
        ...

    def decode_many(self, payloads: list[bytes]) -> list[Any]:
        """Decode every payload; a bad one yields a :class:`DecodeError` in its place."""
        ...


class _BatchAdapter:
    """Gives a two-method user serde the batch shape, with errors made typed."""

    __slots__ = ("_serde",)

    def __init__(self, serde: Serde) -> None:
        self._serde = serde

    def encode(self, message: Any) -> bytes:
        try:
            return self._serde.encode(message)
        except EncodeError:
            raise
        except Exception as exc:
            raise EncodeError(f"cannot encode {message!r}: {exc}") from exc

    def decode(self, payload: bytes) -> Any:
        try:
            return self._serde.decode(payload)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"{type(exc).__name__}: {exc}", payload) from exc

    def encode_many(self, messages: Sequence[Any]) -> list[bytes]:
        encode = self.encode
        return [encode(message) for message in messages]

    def decode_many(self, payloads: list[bytes]) -> list[Any]:
        decode = self._serde.decode
        out: list[Any] = []
        append = out.append
        for payload in payloads:
            try:
                append(decode(payload))
            except DecodeError as exc:
                append(exc)
            except Exception as exc:
                append(DecodeError(f"{type(exc).__name__}: {exc}", payload))
        return out


def as_batch_serde(serde: Serde) -> BatchSerde:
    """Return ``serde`` itself if it already has batch methods, else an adapter around it."""
    if isinstance(serde, BatchSerde):
        return serde
    if not isinstance(serde, Serde):
        raise TypeError(f"{serde!r} is not a serde: it needs encode(message) and decode(payload)")
    return _BatchAdapter(serde)
