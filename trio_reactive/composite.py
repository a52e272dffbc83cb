"""Composite services: stages with their own protocol, codec and processor.

A connection starts in ``initial``; a processor commands a transition with ``peer.goto(stage)``
and ends.  The same connection, peer id, session and any bytes already read move on to the next
stage's processor, in that stage's codec.  A single-protocol service is the one-stage case: the
engine only ever runs the :class:`~trio_reactive.stage.Plan` a service compiles to.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ProtocolDefinitionError
from .processor import Processor, adapt
from .protocol import Protocol, Role
from .stage import SINGLE, Plan, Stage, compile_stage

if TYPE_CHECKING:
    from .engine.peer import Peer

__all__ = ["Service", "Stage", "single_stage"]

Router = Callable[["Peer"], Any]


@attrs.frozen(eq=False)
class Service:
    """A set of stages (keys of an ``enum.Enum``), the one to start in, and optionally a router.

    ``router(peer) -> stage | None`` decides the next stage when a processor ends without
    ``peer.goto``; without a router such an ending closes the connection.
    """

    stages: Mapping[Any, Stage | tuple[Protocol, Processor | None]]
    initial: Any
    router: Router | None = None

    def __attrs_post_init__(self) -> None:
        if not self.stages:
            raise ProtocolDefinitionError("a service needs at least one stage")
        if self.initial not in self.stages:
            raise ProtocolDefinitionError(
                f"initial stage {self.initial!r} is not one of the service's stages "
                f"{list(self.stages)}"
            )
        for key in self.stages:
            if not isinstance(key, enum.Enum):
                raise ProtocolDefinitionError(f"stage keys must be enum members, got {key!r}")
            protocol = self.stage(key).protocol
            if not isinstance(protocol, Protocol):
                raise ProtocolDefinitionError(f"stage {key!r} needs a Protocol, got {protocol!r}")

    def stage(self, key: Any) -> Stage:
        """The stage declared under ``key`` (a ``(protocol, processor)`` pair is accepted too)."""
        declared = self.stages[key]
        return declared if isinstance(declared, Stage) else Stage(*declared)

    def compile(self, role: Role, max_message_size: int) -> Plan:
        """Compile every stage for one end and check it against the frame size limit.

        Codecs are cached per protocol and role, so this is cheap after the first time.
        """
        stages = {}
        for key in self.stages:
            stage = self.stage(key)
            if stage.processor is None:
                raise ProtocolDefinitionError(
                    f"stage {key!r} has no processor: only tr.connect, which drives the "
                    f"stages itself, runs a service without them"
                )
            stages[key] = compile_stage(key, stage.protocol, adapt(stage.processor), role)
        plan = Plan(stages, self.initial, self.router)
        plan.check(max_message_size)
        return plan


def single_stage(protocol: Protocol, processor: Processor) -> Service:
    """The one-stage service behind every single-protocol call (its peers' stage is None)."""
    return Service({SINGLE: Stage(protocol, processor)}, SINGLE)
