"""What a stage of a service is, compiled for one end: the plan the engine runs.

A service (:mod:`trio_reactive.composite`) is a set of stages, each a protocol and a processor.
Compiled for one end, a stage becomes a :class:`CompiledStage`: that end's view of the protocol
(codec compiled, message types known), the other end's codec (to count what reached it), and
the processor classified once.  A :class:`Plan` is every compiled stage, the one to start in
and the router: all the engine needs, and nothing from the layers above it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .processor import Adapted, Processor
from .protocol import Protocol, ProtocolSide, Role
from .wire.codec import CompiledCodec

__all__ = ["SINGLE", "CompiledStage", "Plan", "Stage", "compile_stage"]


@attrs.frozen
class Stage:
    """One stage of a service: its protocol (messages and codec) and its processor.

    The processor may be left out in a service only :func:`~trio_reactive.connect` drives (a
    script client of a multi-stage protocol is the processor of every stage itself); serving
    or ``run_client`` refuses a stage without one.
    """

    protocol: Protocol
    processor: Processor | None = None


class _Key(enum.Enum):
    SINGLE = "single"


#: The key of the one stage of a single-protocol service; peers report it as ``None``.
SINGLE = _Key.SINGLE


@attrs.frozen
class CompiledStage:
    """One stage, compiled for one end.

    ``mirror`` is the other end's codec: it decodes what this end sends, which is how a close
    counts exactly how many messages of a partly written buffer reached the kernel.
    """

    key: Any
    side: ProtocolSide
    processor: Adapted
    mirror: CompiledCodec

    @property
    def name(self) -> Any:
        """The key a user sees: ``None`` for the stage of a single-protocol service."""
        return None if self.key is SINGLE else self.key

    def check(self, max_message_size: int) -> None:
        """Fail now, not at the first connection, if the codec cannot work within the limit
        (a fixed-size record larger than ``max_message_size``)."""
        self.side.codec.decoder(max_message_size)


def compile_stage(key: Any, protocol: Protocol, processor: Adapted, role: Role) -> CompiledStage:
    """``protocol`` and ``processor`` as the stage ``key`` of the ``role`` end."""
    other: Role = "client" if role == "server" else "server"
    return CompiledStage(key, protocol.side(role), processor, protocol.side(other).codec)


@attrs.frozen
class Plan:
    """Every stage of a service for one end, the initial one, and the optional router.

    ``router(peer) -> key | None`` picks the next stage when a processor ends without
    ``peer.goto``; without one such an ending closes the connection.
    """

    stages: Mapping[Any, CompiledStage]
    initial: Any
    router: Callable[[Any], Any] | None = None

    def __attrs_post_init__(self) -> None:
        if self.initial not in self.stages:
            raise KeyError(f"initial stage {self.initial!r} is not in the plan")

    def check(self, max_message_size: int) -> None:
        for stage in self.stages.values():
            stage.check(max_message_size)
