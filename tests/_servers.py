"""Start the example app for real: uvicorn with TLS on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningApp:
    url: str
    cert: Path
    process: subprocess.Popen[bytes]


@contextmanager
def example_server(
    dev_dir: Path, env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[RunningApp]:
    """Run ``python -m example_app`` on a free port until the block ends."""
    port = free_port()
    environment = {
        **os.environ,
        "EXAMPLE_PORT": str(port),
        "EXAMPLE_DEV_DIR": str(dev_dir),
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "example_app"],
        cwd=REPO,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        cert = dev_dir / "tls-cert.pem"
        _wait_for_tls(port, cert, process, timeout)
        yield RunningApp(f"https://127.0.0.1:{port}", cert, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_tls(
    port: int, cert: Path, process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"example app exited early:\n{stderr[-2000:]}")
        if cert.exists() and _handshake(port, cert):
            return
        time.sleep(0.1)
    raise TimeoutError(f"example app did not serve TLS on port {port} in {timeout} s")


def _handshake(port: int, cert: Path) -> bool:
    context = ssl.create_default_context(cafile=str(cert))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                return True
    except (OSError, ssl.SSLError):
        return False
