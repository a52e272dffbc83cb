"""Broadcast: one message to many peers, encoded once per codec, never waiting for a slow peer.

:func:`broadcast` groups the peers by the codec of the stage each is in, encodes the message
once per group, and puts the same bytes in every peer's outgoing queue without waiting.  A
peer whose queue is full follows its outgoing retry policy without making the caller wait:

* ``do_not_retry``: the message is dropped for that peer and counted in ``peer.dropped``;
* any other policy: the bytes go to a background send that does exactly what ``await
  peer.send`` would (wait, back off, or close a peer that stays full as a slow peer).  At most
  ``peer.capacity`` broadcasts wait so per peer; past that they are dropped and counted, so
  memory stays bounded whatever a peer does.

:class:`PeerGroup` is a room: a set of peers that forgets those that have disconnected, with
its own ``broadcast``.
"""

from __future__ import annotations

import collections
import logging
import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic

import attrs
import trio
from typing_extensions import TypeVar

from .config import Strategy
from .engine import Peer
from .errors import ConnectionClosed

if TYPE_CHECKING:
    from .engine import Connection

__all__ = ["Delivery", "PeerGroup", "broadcast"]

logger = logging.getLogger("trio_reactive")

Msg = TypeVar("Msg", default=Any)

#: Broadcasts waiting for room in a full peer's queue, per peer (a peer is in it while its
#: background send runs).
_backlogs: weakref.WeakKeyDictionary[Peer[Any], collections.deque[bytes]] = (
    weakref.WeakKeyDictionary()
)


@attrs.frozen
class Delivery:
    """What one broadcast did, peer by peer.

    ``sent``: queued (or written) at once; ``deferred``: handed to a background send because
    the peer's queue was full; ``dropped``: dropped for a full peer (its ``do_not_retry``
    policy, or too many broadcasts already waiting), counted in its ``peer.dropped`` too;
    ``skipped``: peers no longer connected; ``encodings``: how many times the message was
    encoded (once per distinct codec among the peers).
    """

    sent: int = 0
    deferred: int = 0
    dropped: int = 0
    skipped: int = 0
    encodings: int = 0


def broadcast(peers: Iterable[Peer[Msg]], message: Msg) -> Delivery:
    """Send ``message`` to every peer in ``peers``, encoded once per codec, without waiting.

    A plain function, usable from a sync handler.  Raises
    :class:`~trio_reactive.errors.EncodeError` before sending anything when a codec of the
    peers cannot carry the message.  See the module docstring for a peer whose queue is full.
    """
    groups: dict[int, list[tuple[Peer[Msg], Connection]]] = {}
    skipped = 0
    for peer in peers:
        conn = peer._outlet()
        if conn is None:
            skipped += 1
            continue
        # Codecs are compiled once per protocol and role: one object per wire form.
        groups.setdefault(id(conn.stage.side.codec), []).append((peer, conn))
    # Encode for every group first: a message one codec cannot carry is sent to nobody.
    encoded = []
    for members in groups.values():
        first = members[0][1]
        encoded.append((first.outbox.encode(message), members))
    sent = deferred = dropped = 0
    for data, members in encoded:
        for peer, conn in members:
            # Behind broadcasts already waiting for this peer, a new one waits too (in order).
            if peer not in _backlogs and conn.outbox.put(data, 1):
                sent += 1
            elif conn.outbox.closed:
                skipped += 1
            elif _defer(peer, conn, data):
                deferred += 1
            else:
                _count_dropped(peer, conn)
                dropped += 1
    return Delivery(sent, deferred, dropped, skipped, len(encoded))


def _count_dropped(peer: Peer[Any], conn: Connection) -> None:
    if not conn.outbox.dropped:
        logger.warning(
            "%r: outgoing queue full: dropping broadcasts as the retry policy says "
            "(counted in peer.dropped from now on)",
            peer,
        )
    conn.outbox.dropped += 1


def _defer(peer: Peer[Any], conn: Connection, data: bytes) -> bool:
    """Hand ``data`` to the peer's background send; False when it is to be dropped instead."""
    if conn.config.outgoing_retry.strategy is Strategy.DO_NOT_RETRY:
        return False
    backlog = _backlogs.get(peer)
    if backlog is not None:
        if len(backlog) >= peer.capacity:
            return False
        backlog.append(data)
        return True
    _backlogs[peer] = collections.deque([data])
    trio.lowlevel.spawn_system_task(_drain, peer, conn, name=f"broadcast to {peer!r}")
    return True


async def _drain(peer: Peer[Any], conn: Connection, /) -> None:
    """Send a full peer's waiting broadcasts, as its retry policy says, then end.

    A system task, so that no caller waits for it; it ends at the latest when the connection
    closes (``put_slow`` raises ``ConnectionClosed`` then), and must not raise.
    """
    backlog = _backlogs[peer]
    try:
        while backlog:
            await conn.put_slow(backlog[0], 1)
            backlog.popleft()
    except ConnectionClosed:
        pass
    except Exception:
        logger.exception("%r: a broadcast could not be sent", peer)
    finally:
        _backlogs.pop(peer, None)


class PeerGroup(Generic[Msg]):
    """A set of peers (a room, a topic) to broadcast to; it forgets peers that disconnect.

    ``add`` and ``discard`` as for a set; a peer whose connection has ended (or is closing)
    is dropped from the group by itself: it is never among :attr:`members` and never counted.
    The group holds its peers weakly, so a forgotten room keeps no connection alive.
    """

    def __init__(self, peers: Iterable[Peer[Msg]] = ()) -> None:
        self._peers: weakref.WeakValueDictionary[int, Peer[Msg]] = weakref.WeakValueDictionary()
        for peer in peers:
            self.add(peer)

    def add(self, peer: Peer[Msg]) -> None:
        """Put ``peer`` in the group (no effect if it is in already, or has disconnected)."""
        if peer.is_connected:
            self._peers[peer.id] = peer

    def discard(self, peer: Peer[Msg]) -> None:
        """Take ``peer`` out of the group, if it is in it."""
        self._peers.pop(peer.id, None)

    @property
    def members(self) -> list[Peer[Msg]]:
        """The connected peers of the group, in the order they were added."""
        members = []
        for key, peer in list(self._peers.items()):
            if peer.is_connected:
                members.append(peer)
            else:
                del self._peers[key]
        return members

    def broadcast(self, message: Msg, *, exclude: Peer[Any] | None = None) -> Delivery:
        """Send ``message`` to every member (but ``exclude``, the sender say) with
        :func:`broadcast`."""
        return broadcast((peer for peer in self.members if peer is not exclude), message)

    def __contains__(self, peer: object) -> bool:
        return isinstance(peer, Peer) and peer in self.members

    def __iter__(self) -> Iterator[Peer[Msg]]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return f"<PeerGroup of {len(self)} peers>"
