"""Fixtures more than one test module needs."""

from __future__ import annotations

import ssl

import pytest
import trustme


@pytest.fixture(scope="session")
def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for localhost and 127.0.0.1, and a client context
    that trusts it, both from one throw-away certificate authority."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    return server_context, client_context


@pytest.fixture
def server_tls(tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> ssl.SSLContext:
    """The server side of :func:`tls_contexts`."""
    return tls_contexts[0]


@pytest.fixture
def client_tls(tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> ssl.SSLContext:
    """The client side of :func:`tls_contexts`: it trusts :func:`server_tls`."""
    return tls_contexts[1]
