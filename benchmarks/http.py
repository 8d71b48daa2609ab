"""Over HTTP: uvicorn with TLS on 127.0.0.1, one worker, under a load generator.

Run from the repository root::

    .venv/bin/python -m benchmarks.http                  # 10 s per app
    .venv/bin/python -m benchmarks.http --quick          # 2 s per app
    .venv/bin/python -m benchmarks.http --client httpx   # even when wrk is installed

Each app runs alone in its own uvicorn process (``benchmarks._apps:served_app``,
chosen by environment variable) with a throwaway self-signed certificate. The
load comes from ``wrk`` when it is installed (one thread, keep-alive
connections, a Lua script that sets the token per request) or else from an
async httpx client with the same number of keep-alive connections.

Cold tokens: more distinct tokens than the cache holds, sent in order and
cycled, so a token comes back only after the least-recently-used cache has
evicted it and every request is a cache miss. Warm tokens: 64, reused. The
server counts cache hits, and the table shows them, so both claims are
checked, not assumed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from example_app.devmaterial import write_private, write_self_signed

from jwe_middleware import Key, KeyRing, generate_key

from . import _apps
from ._tokens import mint

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
CONNECTIONS = 16
WARM_TOKENS = 64
# Default cache size of JWEMiddleware, plus room for the requests in flight.
COLD_TOKENS = 10_000 + 1_000
START_TIMEOUT = 30.0
# The httpx client stops at this many requests even if time is left.
MAX_REQUESTS_PER_SECOND = 50_000


@dataclass(frozen=True)
class Row:
    """One app under load: what the server runs and which tokens the client sends."""

    name: str
    app: str
    tokens: Sequence[str]
    decryption: Key | None = None
    signing: Key | None = None


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int
    server_cpu_seconds: float = 0.0

    @property
    def cpu_micros_per_request(self) -> float:
        return self.server_cpu_seconds / max(self.requests, 1) * 1e6


# Files for the server: a certificate and the key sets.


def write_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made as the example app makes its own."""
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    write_self_signed(cert_file, key_file)
    return cert_file, key_file


def server_environment(row: Row, directory: Path) -> dict[str, str]:
    env = {**os.environ, _apps.APP_VARIABLE: row.app}
    if row.decryption is not None:
        path = directory / "decryption.jwks.json"
        write_private(path, json.dumps(KeyRing([row.decryption]).private_jwks()).encode())
        env[_apps.DECRYPTION_VARIABLE] = str(path)
    if row.signing is not None:
        path = directory / "verification.jwks.json"
        path.write_text(json.dumps(KeyRing([row.signing]).public_jwks()))
        env[_apps.VERIFICATION_VARIABLE] = str(path)
    return env


# The server.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(row: Row, directory: Path, cert: tuple[Path, Path]) -> Iterator[tuple[str, int]]:
    """Run uvicorn on a free port for ``row`` until the block ends; yield its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "benchmarks._apps:served_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port),
        "--ssl-certfile", str(cert[0]), "--ssl-keyfile", str(cert[1]),
        "--log-level", "warning", "--no-access-log",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=server_environment(row, directory),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_for_tls(port, cert[0], process)
        yield f"https://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_tls(port: int, cert: Path, process: subprocess.Popen[bytes]) -> None:
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise SystemExit(f"uvicorn exited early:\n{stderr[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                    return
        except (OSError, ssl.SSLError):
            time.sleep(0.1)
    raise SystemExit(f"uvicorn did not serve TLS on port {port} in {START_TIMEOUT} s")


# Load from wrk.

_WRK_SCRIPT = """
local tokens = {}
for line in io.lines(os.getenv("JWE_BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local position = 0

request = function()
  position = position % #tokens + 1
  return wrk.format("GET", "{path}", {["Authorization"] = "Bearer " .. tokens[position]})
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '\\n{"requests": %d, "micros": %d, "p50": %d, "p99": %d, "failures": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.status + errors.timeout))
end
"""


def wrk_load(url: str, tokens: Sequence[str], seconds: float, directory: Path) -> Load:
    # One thread: a single Lua state walks the tokens in order, which is what
    # keeps cold tokens cold.
    script, token_file = directory / "load.lua", directory / "tokens.txt"
    script.write_text(_WRK_SCRIPT.replace("{path}", _apps.PATH))
    write_private(token_file, "\n".join(tokens).encode("ascii"))
    command = [
        "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "5s",
        "-s", str(script), url + _apps.PATH,
    ]
    env = {**os.environ, "JWE_BENCH_TOKENS": str(token_file)}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return Load(
        requests=summary["requests"], seconds=summary["micros"] / 1e6,
        p50_ms=summary["p50"] / 1000, p99_ms=summary["p99"] / 1000,
        failures=summary["failures"],
    )


# Load from httpx.


async def httpx_load(url: str, tokens: Sequence[str], seconds: float, cert: Path) -> Load:
    context = ssl.create_default_context(cafile=str(cert))
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    headers = [{"Authorization": f"Bearer {token}"} for token in tokens]
    budget = int(seconds * MAX_REQUESTS_PER_SECOND)
    next_index = iter(range(budget))
    latencies: list[float] = []
    failures = 0

    async def worker(client: httpx.AsyncClient, deadline: float) -> None:
        nonlocal failures
        # Workers share one counter, so the tokens go out in order.
        for index in next_index:
            if time.perf_counter() >= deadline:
                return
            start = time.perf_counter()
            response = await client.get(_apps.PATH, headers=headers[index % len(headers)])
            latencies.append(time.perf_counter() - start)
            failures += response.status_code != 200

    async with httpx.AsyncClient(base_url=url, verify=context, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker(client, deadline) for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - started
    return _load_from(latencies, elapsed, failures)


def _load_from(latencies: list[float], elapsed: float, failures: int) -> Load:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Load(len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, failures)


# One row.


def cache_stats(url: str, cert: Path) -> dict[str, int]:
    context = ssl.create_default_context(cafile=str(cert))
    snapshot = httpx.get(url + _apps.STATS_PATH, verify=context, timeout=10).json()
    return {"accepted": sum(snapshot["accepted"].values()), "hits": snapshot["cache_hits"]}


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of proc(5); fields[0] is field 3.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_row(
    row: Row, client: str, seconds: float, directory: Path, cert: tuple[Path, Path]
) -> tuple[Load, dict[str, int] | None]:
    with server(row, directory, cert) as (url, pid):
        # The client shares the machine's cores with the server, so req/s
        # may be the client's limit; the server's own CPU time per request
        # is the figure that does not depend on it.
        cpu_before = process_cpu_seconds(pid)
        if client == "wrk":
            load = wrk_load(url, row.tokens, seconds, directory)
        else:
            load = asyncio.run(httpx_load(url, row.tokens, seconds, cert[0]))
        load = dataclasses.replace(
            load, server_cpu_seconds=process_cpu_seconds(pid) - cpu_before
        )
        stats = None if row.app == "bare" else cache_stats(url, cert[0])
    return load, stats


# The rows.


def rows() -> list[Row]:
    encryption = generate_key("RSA-OAEP-256", kid="rsa-oaep-256-1")
    signing = generate_key("ES256", kid="es256-1")
    direct = generate_key("dir", kid="dir-1")
    nested = mint(encryption, signing, COLD_TOKENS)
    return [
        Row("bare Starlette, no auth", "bare", nested[:WARM_TOKENS]),
        Row("ours warm, ES256 in RSA-OAEP-256", "ours", nested[:WARM_TOKENS], encryption, signing),
        Row("ours cold, ES256 in RSA-OAEP-256", "ours", nested, encryption, signing),
        Row("ours cold, dir + A256GCM", "ours", mint(direct, None, COLD_TOKENS), direct),
    ]


def render(results: dict[str, tuple[Row, Load, dict[str, int] | None]]) -> str:
    head = ["app", "tokens", "req/s", "× bare", "p50 ms", "p99 ms", "p99 × bare",
            "server CPU µs/req", "bare/ours CPU", "cache hits", "failures"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    bare: Load | None = None
    for name, (row, load, stats) in results.items():
        bare = bare or load
        rate, bare_rate = load.requests / load.seconds, bare.requests / bare.seconds
        hits = "-" if stats is None else f"{stats['hits']:,} of {stats['accepted']:,}"
        tokens = "-" if row.app == "bare" else f"{len(row.tokens):,}"
        cpu = load.cpu_micros_per_request
        cells = [name, tokens, f"{rate:,.0f}", f"{rate / bare_rate:.2f}",
                 f"{load.p50_ms:.2f}", f"{load.p99_ms:.2f}", f"{load.p99_ms / bare.p99_ms:.2f}",
                 f"{cpu:.0f}", f"{bare.cpu_micros_per_request / cpu:.2f}", hits,
                 str(load.failures)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def choose_client(requested: str) -> str:
    if requested == "auto":
        return "wrk" if shutil.which("wrk") else "httpx"
    if requested == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed")
    return requested


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s per app instead of 10")
    parser.add_argument("--seconds", type=float, help="load duration per app")
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    args = parser.parse_args(argv)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    if not 0 < seconds <= 600:
        parser.error("--seconds must be in (0, 600]")
    client = choose_client(args.client)

    results = {}
    with tempfile.TemporaryDirectory(prefix="jwe-bench-") as temporary:
        directory = Path(temporary)
        cert = write_certificate(directory)
        for row in rows():
            load, stats = run_row(row, client, seconds, directory, cert)
            results[row.name] = (row, load, stats)
    print(render(results))
    print(
        f"\nuvicorn, one worker, TLS on 127.0.0.1; {client}, {CONNECTIONS} keep-alive "
        f"connections, {seconds:g} s per app. The load generator runs on the same "
        f"{os.cpu_count()} cores as the server and takes CPU from it: these figures are "
        "lower than a server with its own cores would reach."
    )


if __name__ == "__main__":
    main()
