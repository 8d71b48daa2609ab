"""Fixtures that run a real ``redis-server`` on a free loopback port.

A fake would only answer the way we expect; a real server also fails the way
production does, which is what the fail-closed tests need.

Import the fixtures explicitly where they are used::

    from tests._redis import redis_server  # noqa: F401
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 5.0
START_ATTEMPTS = 3


def free_port() -> int:
    """A loopback port nothing listens on (the OS picks it for a moment)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process: no persistence, loopback only."""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process = subprocess.Popen(
            [
                executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_until_ready(self) -> bool:
        """Wait for PONG; on exit or timeout stop the process and say False."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and self._process.poll() is None:
            if self.answers_ping():
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Terminate the server; calling it again does nothing."""
        if self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _redis_executable() -> str:
    executable = shutil.which("redis-server")
    if executable is not None:
        return executable
    # CI installs redis-server: a missing binary there is a broken pipeline,
    # and a silent skip would hide every Redis test.
    if os.environ.get("CI") == "true":
        pytest.fail("redis-server is not installed, but CI=true requires it")
    pytest.skip("redis-server is not installed")


def _start_server(workdir: Path) -> RedisServer:
    executable = _redis_executable()
    # Another process may take the free port before redis-server binds it;
    # a new port on the next attempt gets past that race.
    for _ in range(START_ATTEMPTS):
        server = RedisServer(executable, workdir)
        if server.wait_until_ready():
            return server
    raise RuntimeError(f"redis-server did not start in {START_ATTEMPTS} attempts")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server shared by the session; tests keep apart by unique keys."""
    server = _start_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def fresh_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own, which it may stop."""
    server = _start_server(tmp_path)
    yield server
    server.stop()
