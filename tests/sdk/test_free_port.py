"""`free_port`: ports for the platform's servers that outgoing connections cannot take first."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import pytest

from assay.local import free_port
from assay.local import platform as local_platform


def ephemeral_start() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_free_ports_lie_below_the_ephemeral_ports_spread_out_and_bind() -> None:
    ports = [free_port() for _ in range(50)]

    assert all(10000 <= port < ephemeral_start() for port in ports)
    # Two runs on one machine choosing at once rarely meet.
    assert len(set(ports)) >= 45
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_in_use_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        used = taken.getsockname()[1]
        free = free_port()
        picks = iter([used - 10000, free - 10000])
        monkeypatch.setattr(secrets, "randbelow", lambda _: next(picks))
        monkeypatch.setattr(local_platform, "_ephemeral_ports_start", lambda: 65536)

        assert free_port() == free
