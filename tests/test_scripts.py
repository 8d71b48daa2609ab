"""Smoke runs of the operational scripts, so they keep working: a short fuzz
run in process, a short failure-timing table, and the 20-second soak against
the example app over TLS."""

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


RSA_PATH = "RSA-OAEP-256+A256GCM"
CBC_PATH = "dir+A128CBC-HS256"
# (path, case, reason code) as the table lists them: each failure class must
# still fail with its own code, or its timing row measures something else.
RSA_ROWS = [
    (RSA_PATH, "valid", "ok"),
    (RSA_PATH, "malformed header", "malformed"),
    (RSA_PATH, "disallowed alg", "disallowed_algorithm"),
    (RSA_PATH, "unknown kid", "unknown_key"),
    (RSA_PATH, "tampered encrypted key", "decryption_failed"),
    (RSA_PATH, "tampered ciphertext", "decryption_failed"),
    (RSA_PATH, "tampered tag", "decryption_failed"),
    (RSA_PATH, "bad inner signature", "invalid_signature"),
    (RSA_PATH, "expired", "expired"),
]
CBC_ROWS = [
    (CBC_PATH, "valid", "ok"),
    (CBC_PATH, "bad tag", "decryption_failed"),
    (CBC_PATH, "tampered ciphertext", "decryption_failed"),
    (CBC_PATH, "bad padding, wrong tag", "decryption_failed"),
    (CBC_PATH, "bad padding, valid tag*", "decryption_failed"),
]


def timing_rows(stdout: str) -> list[tuple[str, str, str]]:
    """The table's (path, case, code) rows, after checking the timings parse."""
    lines = stdout.splitlines()
    assert lines[0].startswith("| path | case | code | median"), lines[0]
    rows = []
    for line in lines[2:]:
        if not line.startswith("| "):
            break
        path, case, code, *timings = (cell.strip() for cell in line.strip("|").split("|"))
        assert len(timings) == 3 and all(float(value) > 0 for value in timings), line
        rows.append((path, case, code))
    return rows


@pytest.mark.parametrize(
    ("options", "expected"),
    [([], RSA_ROWS + CBC_ROWS), (["--no-cbc"], RSA_ROWS)],
    ids=["default", "no-cbc"],
)
def test_failure_timing_smoke_run_lists_cases_and_codes(
    options: list[str], expected: list[tuple[str, str, str]], tmp_path: Path
) -> None:
    arguments = ["scripts/failure_timing.py", "--iterations", "20", *options]
    result = run(arguments, tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert timing_rows(result.stdout) == expected
    assert result.stdout.splitlines()[-1].startswith("20 iterations per case")
    # The footnote explains the starred CBC row, so it goes with it.
    assert ("* a bad padding" in result.stdout) == ("--no-cbc" not in options)


@pytest.mark.slow
def test_soak_ci_run_finds_no_5xx_or_rss_growth(tmp_path: Path) -> None:
    result = run(["-m", "scripts.soak", "--duration", "20"], tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert {"5xx: 0", "unexpected answers: 0", "transport errors: 0", "result: ok"} <= set(lines)
    assert any(line.startswith("server RSS: warm ") for line in lines)
