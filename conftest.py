"""Test-wide settings: quiet TensorFlow and a hard block on network access."""
import os
import socket

import pytest

# Must be set before anything imports TensorFlow, or its C++ start-up chatter floods the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class NetworkBlocked(OSError):
    """Raised by every network call made during tests (an OSError, like a real network failure)."""


def _refuse(*args, **kwargs):
    raise NetworkBlocked("tests must not use the network")


@pytest.fixture(autouse=True)
def block_network(monkeypatch):
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    # Unix-domain sockets are local IPC (multiprocessing uses them), not network, so they stay usable.
    def guarded_connect(sock, address):
        if sock.family == getattr(socket, "AF_UNIX", None):
            return original_connect(sock, address)
        _refuse()

    def guarded_connect_ex(sock, address):
        if sock.family == getattr(socket, "AF_UNIX", None):
            return original_connect_ex(sock, address)
        _refuse()

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
