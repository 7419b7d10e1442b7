"""Free ports for a stack on one host: distinct, and really free."""

from __future__ import annotations

import socket

from api_common.ports import free_ports


def test_free_ports_are_distinct_and_bindable():
    # One call after another may be given the port the last just closed (CI: Redis and a model API got the same).
    ports = free_ports(20)
    assert len(set(ports)) == 20
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in ports]
    try:
        for sock, port in zip(socks, ports, strict=True):
            sock.bind(("127.0.0.1", port))
    finally:
        for sock in socks:
            sock.close()
