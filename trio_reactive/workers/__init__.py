"""All cores: one service run by N worker processes sharing one port (see :mod:`.launcher`)."""

from .launcher import REUSE_PORT_OPTION, load_app, serve_workers

__all__ = ["REUSE_PORT_OPTION", "load_app", "serve_workers"]
