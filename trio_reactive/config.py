"""Configuration: frozen, validated on construction, read once when a connection starts.

The engine picks its code paths from a :class:`Config` when a connection is set up, never per
message.  :class:`RetryPolicy` carries the original's strategies for what to do when a queue is
full (or a connect fails): wait, drop, close, back off, or keep trying for a while.
"""

from __future__ import annotations

import enum
import os
import random
from collections.abc import Iterator
from typing import Any

import attrs

from .errors import ConfigError

__all__ = ["Config", "RetryPolicy", "Strategy"]

_OFF = frozenset({"0", "false", "no", "off"})
BACKOFF_FACTOR = 1.47
BACKOFF_JITTER = 0.2


class Strategy(enum.Enum):
    """The kinds of :class:`RetryPolicy` (build policies with its class methods)."""

    WAIT = "wait"
    DO_NOT_RETRY = "do_not_retry"
    END_COMMUNICATIONS = "end_communications"
    BACKOFF = "backoff"
    YIELDING = "yielding"


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {bound}, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """What to do when something cannot happen right now (a full queue, a refused connect).

    Build one with the class methods; when a policy gives up (``backoff`` out of attempts,
    ``yielding_for`` out of time) the connection is closed, as with ``end_communications``.
    """

    strategy: Strategy
    attempts: int = 0
    millis: float = 0.0
    initial_delay: float = 0.001

    def __attrs_post_init__(self) -> None:
        if self.strategy is Strategy.BACKOFF:
            if self.attempts < 1:
                raise ConfigError(f"backoff needs attempts ≥ 1, got {self.attempts}")
            _positive("backoff initial_delay", self.initial_delay)
        if self.strategy is Strategy.YIELDING:
            _positive("yielding_for millis", self.millis)

    @classmethod
    def wait(cls) -> RetryPolicy:
        """Wait as long as it takes (plain backpressure)."""
        return cls(Strategy.WAIT)

    @classmethod
    def do_not_retry(cls) -> RetryPolicy:
        """Drop the message (or give up the connect) and carry on."""
        return cls(Strategy.DO_NOT_RETRY)

    @classmethod
    def end_communications(cls) -> RetryPolicy:
        """Close the connection at once."""
        return cls(Strategy.END_COMMUNICATIONS)

    @classmethod
    def backoff(cls, attempts: int, initial_delay: float = 0.001) -> RetryPolicy:
        """Retry up to ``attempts`` times, each delay x1.47 with 20% jitter, then close."""
        return cls(Strategy.BACKOFF, attempts=attempts, initial_delay=initial_delay)

    @classmethod
    def yielding_for(cls, millis: float) -> RetryPolicy:
        """Keep waiting for up to ``millis`` milliseconds, then close."""
        return cls(Strategy.YIELDING, millis=millis)

    def delays(self) -> Iterator[float]:
        """The backoff schedule in seconds: ``attempts`` delays growing by 1.47x +/- 20%."""
        delay = self.initial_delay
        for _ in range(self.attempts):
            yield delay * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)
            delay *= BACKOFF_FACTOR

    def stamina_arguments(self) -> dict[str, Any]:
        """The same policy as arguments for ``stamina.retry_context`` (connects)."""
        if self.strategy in (Strategy.DO_NOT_RETRY, Strategy.END_COMMUNICATIONS):
            return {"attempts": 1, "timeout": None}
        if self.strategy is Strategy.BACKOFF:
            return {
                "attempts": self.attempts + 1,
                "timeout": None,
                "wait_initial": self.initial_delay,
                "wait_exp_base": BACKOFF_FACTOR,
                "wait_jitter": self.initial_delay * BACKOFF_JITTER,
                "wait_max": 5.0,
            }
        timeout = None if self.strategy is Strategy.WAIT else self.millis / 1000
        return {
            "attempts": None,
            "timeout": timeout,
            "wait_initial": 0.01,
            "wait_exp_base": BACKOFF_FACTOR,
            "wait_jitter": 0.002,
            "wait_max": 1.0,
        }


def _at_least(minimum: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"{attribute.name} must be an integer ≥ {minimum}, got {value!r}")

    return check


def _seconds(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _positive(attribute.name, value, allow_zero=True)


def _timeout(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A deadline: ``None`` waits for ever, a number must be > 0 (0 would fail everything)."""
    if value is not None:
        _positive(attribute.name, value)


def _optional_at_least(minimum: int) -> Any:
    check = _at_least(minimum)

    def optional(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            check(instance, attribute, value)

    return optional


@attrs.frozen(kw_only=True)
class Config:
    """Per-service settings (defaults suit most servers).

    Each queue is bounded twice, in messages (``*_capacity``) and in bytes
    (``*_capacity_bytes``), and ``max_message_size`` bounds every frame in and out, so memory
    per connection is bounded whatever the peer does: the incoming queue holds at most its byte
    capacity plus one read (``receive_size``), the outgoing one its byte capacity plus about one
    message (a sync handler's replies to one read are queued in slices that fit the room left),
    and the decoder keeps at most one partial frame.  The defaults (128 KiB in, 64 KiB out) let a
    server hold thousands of slow connections (about 200 KiB each at worst, plus the kernel's
    socket buffers); raise them for a few fast bulk connections, where larger queues mean fewer
    wake-ups.

    ``server_buffer_budget`` bounds what all of a server's connections buffer together (bytes
    in their incoming queues and outboxes), since thousands of per-connection bounds add up
    to gigabytes (10,000 connections x 192 KiB is 1.9 GB).  While the total is over it, a
    connection that holds buffered bytes stops reading until the total is back under three
    quarters of it; a connection that holds nothing reads on, so slow readers holding the
    budget cannot stop light request/response traffic.  The total stays within the budget
    plus one read's worth (its bytes, or the replies to it) per connection still reading.
    The default, 64 MiB, is more than 300 connections at their full per-connection bounds at
    once, which an ordinary server never reaches (what goes straight to the kernel is not
    counted); a server that does is being fed faster than it drains, and pausing its
    heaviest readers is the backpressure it needs.  ``None`` turns it off: only the
    per-connection bounds apply.  Clients have no budget.

    ``shared_poller``: on systems with epoll or kqueue, the plain-socket connections of a
    server (and the client connections of a trio run) are read by one poller task serving
    every ready socket per wake-up, instead of by a task each: several times the throughput
    with many connections.  TLS and other streams always read with their own task.  ``False``
    turns it off; ``None`` (the default) means on, unless the environment variable
    ``TRIO_REACTIVE_SHARED_POLLER`` is ``0``.

    ``close_timeout``: closing flushes what is queued and gives up only when the peer takes
    nothing for this long (python-websockets waits 10 s too), then reads and drops the peer's
    input for at most this long until its EOF, so that closing never resets the connection.
    ``close_quiet``: while it waits for that EOF, input quiet for this long is taken as over
    and the connection closes without it (nginx's ``lingering_timeout`` is 5 s).  A peer that
    still answers after it, a server stalled on a busy machine, is answering a closed socket:
    its kernel resets the connection under it, and what it had not read yet is lost.  Longer
    is safer; it is what leaving a client's block costs at most when the peer does not close
    in turn (``None``: only ``close_timeout`` bounds the wait).

    Timeouts are in seconds; ``None`` turns one off.  ``connect_timeout`` bounds each connect
    attempt of a client, TCP connect and TLS handshake together.  ``handshake_timeout`` bounds
    how long a server waits for a new connection's opening: its TLS handshake on a TLS port and
    then its first whole message, together (a peer that trickles bytes and never completes a
    message is closed; a protocol whose clients may stay silent, such as a push-only feed,
    turns it off).  ``idle_timeout`` closes a connection with no traffic either way for that
    long (off by default: silent long-lived connections are normal for messaging; a vanished
    peer is the heartbeat's job).  ``write_timeout`` aborts a connection whose peer takes none
    of what is queued for it for that long (what is queued counts as unsent).
    ``heartbeat_interval``: an end that has sent nothing for that long sends a heartbeat, a
    frame its codec reserves and every receiver drops before the processor (an empty line, a
    zero-length frame; codecs without one, fixed and raw, refuse it with a ``ConfigError``).
    ``heartbeat_timeout``: an end that has received nothing at all for that long (messages or
    heartbeats) aborts the connection: the peer has vanished.  Both off by default; set them
    on both ends (python-websockets uses 20 s and 20 s).
    ``max_connections`` caps the connections a server holds at once (``None``: only the
    file-descriptor limit); a connection beyond it is closed at once and reported as
    :class:`~trio_reactive.events.Rejected`.  ``keepalive_idle``,
    ``keepalive_interval`` (seconds) and ``keepalive_count`` tune TCP keepalive where the OS
    has the options, and need ``keepalive=True``.
    """

    incoming_capacity: int = attrs.field(default=4096, validator=_at_least(1))
    outgoing_capacity: int = attrs.field(default=4096, validator=_at_least(1))
    incoming_capacity_bytes: int = attrs.field(default=128 << 10, validator=_at_least(1))
    outgoing_capacity_bytes: int = attrs.field(default=64 << 10, validator=_at_least(1))
    max_message_size: int = attrs.field(default=1 << 20, validator=_at_least(1))
    receive_size: int = attrs.field(default=65536, validator=_at_least(1))
    close_timeout: float = attrs.field(default=10.0, validator=_seconds)
    close_quiet: float | None = attrs.field(default=2.0, validator=_timeout)
    incoming_retry: RetryPolicy = attrs.field(factory=RetryPolicy.wait)
    outgoing_retry: RetryPolicy = attrs.field(factory=RetryPolicy.wait)
    connect_retry: RetryPolicy = attrs.field(factory=RetryPolicy.do_not_retry)
    close_on_processor_error: bool = False
    close_on_input_error: bool = False
    tcp_nodelay: bool = True
    keepalive: bool = False
    linger: float | None = attrs.field(default=None, validator=_seconds)
    ttl: int | None = None
    keepalive_idle: int | None = attrs.field(default=None, validator=_optional_at_least(1))
    keepalive_interval: int | None = attrs.field(default=None, validator=_optional_at_least(1))
    keepalive_count: int | None = attrs.field(default=None, validator=_optional_at_least(1))
    connect_timeout: float | None = attrs.field(default=10.0, validator=_timeout)
    handshake_timeout: float | None = attrs.field(default=10.0, validator=_timeout)
    max_connections: int | None = attrs.field(default=None, validator=_optional_at_least(1))
    server_buffer_budget: int | None = attrs.field(
        default=64 << 20, validator=_optional_at_least(1)
    )
    idle_timeout: float | None = attrs.field(default=None, validator=_timeout)
    write_timeout: float | None = attrs.field(default=60.0, validator=_timeout)
    heartbeat_interval: float | None = attrs.field(default=None, validator=_timeout)
    heartbeat_timeout: float | None = attrs.field(default=None, validator=_timeout)

    shared_poller: bool | None = None

    @property
    def uses_shared_poller(self) -> bool:
        """Whether plain sockets are read by a shared poller (``shared_poller``; ``None``: yes,
        unless the environment says ``TRIO_REACTIVE_SHARED_POLLER=0``)."""
        if self.shared_poller is not None:
            return self.shared_poller
        return os.environ.get("TRIO_REACTIVE_SHARED_POLLER", "1").lower() not in _OFF

    def __attrs_post_init__(self) -> None:
        tuned = [
            name
            for name in ("keepalive_idle", "keepalive_interval", "keepalive_count")
            if getattr(self, name) is not None
        ]
        if tuned and not self.keepalive:
            raise ConfigError(f"{', '.join(tuned)} only apply with keepalive=True")
        if self.max_message_size > 0xFFFFFFFF:
            raise ConfigError("max_message_size must fit the u32 length prefix (≤ 4294967295)")
        if self.ttl is not None and not 1 <= self.ttl <= 255:
            raise ConfigError(f"ttl must be in 1..255, got {self.ttl}")
        for name in ("incoming_retry", "outgoing_retry", "connect_retry"):
            if not isinstance(getattr(self, name), RetryPolicy):
                raise ConfigError(f"{name} must be a RetryPolicy")
