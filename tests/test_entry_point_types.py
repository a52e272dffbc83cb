"""Every entry point of a server carries the same generic types, for a user's type checker.

``serve_unix`` takes what ``serve_tcp`` takes (a ``Protocol[ClientMsg, ServerMsg]`` or a
``Service``, a ``Processor[ClientMsg, ServerMsg]``) and starts a ``Server[ServerMsg]``: the
annotations are compared as the checker reads them, with the type variables resolved.
"""

from __future__ import annotations

import typing

import pytest

import trio_reactive as tr

SHARED = ("protocol", "processor", "config", "on_event", "task_status")


@pytest.mark.parametrize("entry_point", [tr.serve_unix, tr.serve_listeners])
def test_a_server_entry_point_has_the_types_of_serve_tcp(entry_point: typing.Any) -> None:
    expected = typing.get_type_hints(tr.serve_tcp)
    found = typing.get_type_hints(entry_point)
    assert {name: found[name] for name in SHARED} == {name: expected[name] for name in SHARED}


def test_the_entry_points_are_defined_where_they_are_documented() -> None:
    """They all live in ``trio_reactive.serving``, and the package's names are those."""
    from trio_reactive import serving

    for name in ("serve_tcp", "serve_listeners", "serve_unix", "open_server", "serve_forever"):
        assert getattr(tr, name) is getattr(serving, name)
        assert getattr(serving, name).__module__ == "trio_reactive.serving"
