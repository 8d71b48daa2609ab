"""The whole benchmark suite in one run: decode, in-process ASGI, HTTP over TLS, memory.

Run from the repository root (``make bench`` does this)::

    .venv/bin/python -m benchmarks.run           # the full suite, about five minutes
    .venv/bin/python -m benchmarks.run --quick   # the smoke run CI makes, under a minute

Each part prints its own table and the targets it checks; see the module
docstrings of ``benchmarks.decode``, ``benchmarks.asgi``, ``benchmarks.http``
and ``benchmarks.memory`` for what each measures. The exit status is that of
the first part that fails to run, not of a missed target.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
PARTS = (
    ("Per-token decode", "benchmarks.decode"),
    ("In-process ASGI throughput", "benchmarks.asgi"),
    ("Over HTTP: uvicorn, TLS, 127.0.0.1", "benchmarks.http"),
    ("Memory under 1,000,000 distinct tokens", "benchmarks.memory"),
)


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run of each part")
    args = parser.parse_args(argv)
    extra = ["--quick"] if args.quick else []

    print(f"Machine: {machine()}")
    for title, module in PARTS:
        print(f"\n## {title}\n", flush=True)
        started = time.perf_counter()
        # A fresh interpreter per part: no part inherits another's heap,
        # caches or imported modules, which matters for the memory figure.
        done = subprocess.run([sys.executable, "-m", module, *extra], cwd=REPO, check=False)
        print(f"\n({module} took {time.perf_counter() - started:.0f} s)", flush=True)
        if done.returncode != 0:
            raise SystemExit(done.returncode)


if __name__ == "__main__":
    main()
