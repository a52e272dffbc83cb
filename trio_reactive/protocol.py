"""A protocol: what each side sends, and the codec they send it with.

The same :class:`Protocol` object serves both ends: the server decodes ``client`` messages and
encodes ``server`` ones, the client the other way round (:meth:`Protocol.side`).  Codecs are
compiled once per protocol and role, then shared by every connection.

A protocol is generic over what each side sends, ``Protocol[ClientMsg, ServerMsg]``, inferred
from its arguments: ``Protocol(client=Ping, server=Pong | Quit)`` is a
``Protocol[Ping, Pong | Quit]``, and every entry point that takes it types its peers, its
connections and its processors from it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal

import attrs

from ._typing import ClientMsg, ServerMsg
from .wire.codec import Codec, CompiledCodec, Textual
from .wire.model import variants_of

if TYPE_CHECKING:
    from typing_extensions import TypeForm

__all__ = ["Protocol", "ProtocolSide", "Role"]

Role = Literal["server", "client"]


@attrs.frozen
class ProtocolSide:
    """One end's view of a protocol, compiled: what it receives, what it sends, and how."""

    role: Role
    inbound: tuple[type, ...]
    outbound: tuple[type, ...]
    codec: CompiledCodec
    processor_error: Callable[[BaseException], Any] | None
    input_error: Callable[[Exception], Any] | None
    #: ``outbound`` as a set, for the per-reply test of a sync handler's return (made once).
    sends: frozenset[type] = attrs.field(
        init=False, default=attrs.Factory(lambda side: frozenset(side.outbound), takes_self=True)
    )


@attrs.frozen(eq=False)
class Protocol(Generic[ClientMsg, ServerMsg]):
    """Messages each side sends (an attrs class or a union of them) and their codec.

    Generic over those messages: ``Protocol(client=Ping, server=Pong | Quit)`` is a
    ``Protocol[Ping, Pong | Quit]`` to a type checker, so a server's peer may send only
    ``Pong | Quit`` and a client connection only ``Ping``.

    ``processor_error(exc)`` and ``input_error(err)`` may return a message to send back when the
    processor raises or a frame cannot be decoded (``None``: send nothing).
    """

    client: TypeForm[ClientMsg]
    server: TypeForm[ServerMsg]
    codec: Codec = attrs.field(factory=Textual)
    processor_error: Callable[[BaseException], Any] | None = None
    input_error: Callable[[Exception], Any] | None = None

    def __attrs_post_init__(self) -> None:
        variants_of(self.client)
        variants_of(self.server)

    def with_codec(self, codec: Codec) -> Protocol[ClientMsg, ServerMsg]:
        """The same messages over another wire form (picked at run time)."""
        return attrs.evolve(self, codec=codec)

    def side(self, role: Role) -> ProtocolSide:
        """The compiled view of one end (cached: every connection shares it)."""
        return _compile_side(self, role)


@functools.cache
def _compile_side(protocol: Protocol, role: Role) -> ProtocolSide:
    clients, servers = variants_of(protocol.client), variants_of(protocol.server)
    inbound, outbound = (clients, servers) if role == "server" else (servers, clients)
    return ProtocolSide(
        role=role,
        inbound=inbound,
        outbound=outbound,
        codec=protocol.codec.compile(inbound, outbound),
        processor_error=protocol.processor_error,
        input_error=protocol.input_error,
    )
