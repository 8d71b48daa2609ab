"""Smoke runs of the operational scripts, so they keep working: a short fuzz
run in process, and the 20-second soak against the example app over TLS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._servers import REPO


def run(arguments: list[str], dev_dir: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "EXAMPLE_DEV_DIR": str(dev_dir)}
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_fuzz_asgi_smoke_run_finds_no_5xx(tmp_path: Path) -> None:
    result = run(["scripts/fuzz_asgi.py", "--count", "2000"], tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "inputs: 2000 in" in result.stdout
    assert {"5xx: 0", "escaped exceptions: 0", "accepted mutants: 0", "result: ok"} <= set(lines)


@pytest.mark.slow
def test_soak_ci_run_finds_no_5xx_or_rss_growth(tmp_path: Path) -> None:
    result = run(["-m", "scripts.soak", "--duration", "20"], tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert {"5xx: 0", "unexpected answers: 0", "transport errors: 0", "result: ok"} <= set(lines)
    assert any(line.startswith("server RSS: warm ") for line in lines)
