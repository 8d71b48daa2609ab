"""The benchmark suite's smoke run, so the scripts keep working.

Figures come from ``make bench``; this only checks that every part runs
end to end on the real code path and prints its table.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests._servers import REPO


@pytest.mark.slow
def test_benchmark_suite_quick_run_completes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout
    assert done.returncode == 0, output[-3000:] + done.stderr[-3000:]
    for heading in ("dir + A256GCM", "ours warm", "bare Starlette, no auth", "RSS after warm-up"):
        assert heading in output
    assert "met    memory flat beyond the cache bound" in output
    assert "Traceback" not in done.stderr
