"""The type variables of the public API: what each side of a protocol sends.

They default to ``Any``, so a bare ``Protocol`` or ``Peer`` in an annotation means "any
messages" (and stays valid under ``mypy --strict``), while a protocol built from its message
classes carries them to every call that takes it.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import TypeVar

__all__ = ["ClientMsg", "In", "Out", "ServerMsg"]

#: What a protocol's client sends (its ``client`` side).
ClientMsg = TypeVar("ClientMsg", default=Any)
#: What a protocol's server sends (its ``server`` side).
ServerMsg = TypeVar("ServerMsg", default=Any)
#: What a processor receives.
In = TypeVar("In", default=Any)
#: What a processor sends.
Out = TypeVar("Out", default=Any)
