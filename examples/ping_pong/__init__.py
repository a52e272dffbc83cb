"""Ping-pong: the original's showcase game, rebuilt on trio_reactive.

A client (the *guest*) and the server (the *host*) play a match of ping-pong.  Each stroke is a
lucky number in [0, 1) that the player's side draws; its own umpire judges it against the
match's fault probabilities and reports the resulting event, and the other side's umpire judges
the same stroke again and must agree, or the match is cancelled.  The game exercises a composite
protocol: a textual pre-game stage negotiates the version, the codec and the terms, then the
game stage runs over fixed binary (or any codec), on the same connection.

The layout shows what is shared and what is not:

* :mod:`.models` -- the match's terms, its events and the messages of both stages;
* :mod:`.umpire` -- the rules and the cross-check, pure logic with no I/O, the same on both sides;
* :mod:`.processors` -- each side's stage processors and composite service, over that logic;
* :mod:`.server`, :mod:`.client` -- thin entry points; :mod:`.__main__` -- the command line.

Run ``python -m examples.ping_pong --help``.  Where it departs from the original: a soft fault
on the very first service no longer stalls the match; fault probabilities are cumulative
thresholds (each fault happens as often as its probability says); the server enforces
``rally_timeout_millis``; the server echoes the accepted terms, so a refusal (for instance of a
codec the server does not play over) reaches the client in a codec it still reads; and a server
shutdown tells every guest still playing.
"""
