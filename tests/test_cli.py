from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from jwe_middleware import KeyRing

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}
SECRET_EMAIL = "alice@example.org"
ISSUER = "https://id.example.org"
AUDIENCE = "orders-api"


# Ten years, the longest lifetime issue accepts.
MAX_LIFETIME = 10 * 365 * 24 * 3600
CONSOLE_SCRIPT = Path(sys.executable).with_name("jwe-middleware")


def run(
    command: list[str], *, stdin: str | None = None, umask: int = -1
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=30, umask=umask
    )


def cli(
    *args: str | Path, stdin: str | None = None, umask: int = -1
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "jwe_middleware.cli", *map(str, args)]
    return run(command, stdin=stdin, umask=umask)


def assert_usage_error(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("jwe-middleware")
    assert result.stderr.strip().splitlines()[-1].startswith("jwe-middleware")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class Keys(NamedTuple):
    service: Path
    service_public: Path
    issuer: Path
    issuer_public: Path
    secret: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    directory = tmp_path_factory.mktemp("keys")
    made = Keys(
        directory / "service.json",
        directory / "service.public.json",
        directory / "issuer.json",
        directory / "issuer.public.json",
        directory / "secret.json",
    )
    for alg, private, public in [
        ("RSA-OAEP-256", made.service, made.service_public),
        ("ES256", made.issuer, made.issuer_public),
    ]:
        assert cli("keygen", "--alg", alg, "--out", private, "--public-out", public).returncode == 0
    assert cli("keygen", "--alg", "A256KW", "--out", made.secret).returncode == 0
    return made


def issue(keys: Keys, *extra: str) -> str:
    result = cli(
        "issue",
        "--encryption-key", keys.service_public,
        "--signing-key", keys.issuer,
        "--issuer", ISSUER,
        "--audience", AUDIENCE,
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def token(keys: Keys) -> str:
    claims = {"sub": "user-1", "email": SECRET_EMAIL}
    return issue(keys, "--claims", json.dumps(claims))


def inspect_with_keys(keys: Keys, token: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(
        "inspect", token,
        "--decryption-keys", keys.service,
        "--verification-keys", keys.issuer_public,
        "--issuer", ISSUER,
        "--audience", AUDIENCE,
        *extra,
    )


# -- keygen ----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RSA-OAEP-256", "A256KW", "dir", "ES256"])
def test_keygen_private_set_written_mode_0600(tmp_path: Path, alg: str) -> None:
    out = tmp_path / "private.json"

    result = cli("keygen", "--alg", alg, "--out", out)

    assert result.returncode == 0, result.stderr
    assert mode_of(out) == 0o600
    (member,) = json.loads(out.read_text())["keys"]
    assert member["alg"] == alg and PRIVATE_MEMBERS & set(member)
    (key,) = KeyRing.from_file(out)
    assert key.is_private and f"kid: {key.kid}" in result.stdout


@pytest.mark.parametrize("alg", ["RSA-OAEP-256", "ES256"])
def test_keygen_public_set_has_no_private_members(tmp_path: Path, alg: str) -> None:
    private, public = tmp_path / "private.json", tmp_path / "public.json"

    result = cli("keygen", "--alg", alg, "--kid", "k1", "--out", private, "--public-out", public)

    assert result.returncode == 0, result.stderr
    (member,) = json.loads(public.read_text())["keys"]
    assert not PRIVATE_MEMBERS & set(member)
    (key,) = KeyRing.from_file(public)
    assert key.kid == "k1" and not key.is_private


@pytest.mark.parametrize("force", [False, True], ids=["create", "force"])
def test_keygen_public_set_not_secret_with_normal_mode(tmp_path: Path, force: bool) -> None:
    private, public = tmp_path / "private.json", tmp_path / "public.json"
    extra = ["--force"] if force else []

    result = cli(
        "keygen", "--alg", "ES256", "--out", private, "--public-out", public, *extra,
        umask=0o022,
    )

    assert result.returncode == 0, result.stderr
    assert mode_of(private) == 0o600
    assert mode_of(public) == 0o644
    for member in json.loads(public.read_text())["keys"]:
        assert not PRIVATE_MEMBERS & set(member)


def test_keygen_symmetric_public_out_refused(tmp_path: Path) -> None:
    private, public = tmp_path / "private.json", tmp_path / "public.json"

    result = cli("keygen", "--alg", "A256KW", "--out", private, "--public-out", public)

    assert_usage_error(result)
    assert not private.exists() and not public.exists()


def test_keygen_existing_file_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "private.json"
    out.write_text("precious")

    result = cli("keygen", "--alg", "ES256", "--out", out)

    assert_usage_error(result)
    assert "--force" in result.stderr
    assert out.read_text() == "precious"


def test_keygen_existing_public_file_refused_before_any_write(tmp_path: Path) -> None:
    private, public = tmp_path / "private.json", tmp_path / "public.json"
    public.write_text("precious")

    result = cli("keygen", "--alg", "ES256", "--out", private, "--public-out", public)

    assert_usage_error(result)
    assert not private.exists()
    assert public.read_text() == "precious"


def test_keygen_force_replaces_open_file_with_0600(tmp_path: Path) -> None:
    out = tmp_path / "private.json"
    out.write_text("old")
    out.chmod(0o644)

    result = cli("keygen", "--alg", "ES256", "--out", out, "--force")

    assert result.returncode == 0, result.stderr
    assert mode_of(out) == 0o600
    assert len(KeyRing.from_file(out)) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["private.json"]


# -- issue and inspect -----------------------------------------------------------


def test_issue_inspect_round_trip_valid_without_values(keys: Keys, token: str) -> None:
    result = inspect_with_keys(keys, token)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = json.loads(lines[0].removeprefix("header: "))
    assert header["alg"] == "RSA-OAEP-256" and header["cty"] == "JWT"
    assert lines[1].startswith("valid:")
    assert '"email"' in result.stdout and '"sub"' in result.stdout
    assert SECRET_EMAIL not in result.stdout + result.stderr
    assert "user-1" not in result.stdout + result.stderr


def test_inspect_reveal_prints_claim_values(keys: Keys, token: str) -> None:
    result = inspect_with_keys(keys, token, "--reveal")

    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout.split("claims: ", 1)[1])
    assert claims["email"] == SECRET_EMAIL and claims["iss"] == ISSUER


def test_inspect_token_from_stdin(keys: Keys, token: str) -> None:
    result = cli(
        "inspect", "-",
        "--decryption-keys", keys.service,
        "--verification-keys", keys.issuer_public,
        "--issuer", ISSUER,
        "--audience", AUDIENCE,
        stdin=token + "\n",
    )

    assert result.returncode == 0, result.stderr
    assert "valid:" in result.stdout


def test_inspect_without_keys_prints_header_only(token: str) -> None:
    result = cli("inspect", token)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("header: {")
    assert "not checked" in result.stdout
    assert "claim" not in result.stdout


def test_inspect_expired_token_invalid_with_reason(keys: Keys, token: str) -> None:
    later = f"{time.time() + 7200:.0f}"

    result = inspect_with_keys(keys, token, "--at", later)

    assert result.returncode == 1
    assert "invalid: expired" in result.stdout
    assert "claim" not in result.stdout


def test_inspect_other_audience_invalid_with_reason(keys: Keys, token: str) -> None:
    result = cli(
        "inspect", token,
        "--decryption-keys", keys.service,
        "--verification-keys", keys.issuer_public,
        "--issuer", ISSUER,
        "--audience", "another-api",
    )

    assert result.returncode == 1
    assert "invalid: invalid_audience" in result.stdout


def tampered(token: str) -> str:
    segments = token.split(".")
    ciphertext = segments[3]
    segments[3] = ("B" if ciphertext[0] == "A" else "A") + ciphertext[1:]
    return ".".join(segments)


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda token: "not-a-token", "malformed"),
        (lambda token: token.split(".", 1)[0] + ".a.b", "malformed"),
        (tampered, "decryption_failed"),
    ],
    ids=["garbage", "segments", "tampered"],
)
def test_inspect_bad_token_invalid(
    keys: Keys, token: str, make_token: Callable[[str], str], reason: str
) -> None:
    result = inspect_with_keys(keys, make_token(token))

    assert result.returncode == 1
    assert f"invalid: {reason}" in result.stdout


def test_inspect_token_for_another_key_unknown_key(keys: Keys, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    assert cli("keygen", "--alg", "A256KW", "--out", other).returncode == 0
    token = cli("issue", "--encryption-key", keys.secret).stdout.strip()

    result = cli("inspect", token, "--decryption-keys", other)

    assert result.returncode == 1
    assert "invalid: unknown_key" in result.stdout


def test_issue_unsigned_symmetric_round_trip(keys: Keys) -> None:
    token = cli("issue", "--encryption-key", keys.secret, "--claims", '{"sub": "u"}')
    assert token.returncode == 0, token.stderr

    result = cli("inspect", token.stdout.strip(), "--decryption-keys", keys.secret)

    assert result.returncode == 0, result.stderr
    assert "not signed" in result.stdout


def test_issue_claims_from_file(keys: Keys, tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({"email": SECRET_EMAIL}))
    token = cli("issue", "--encryption-key", keys.secret, "--claims", f"@{claims}")

    result = cli("inspect", token.stdout.strip(), "--decryption-keys", keys.secret, "--reveal")

    assert result.returncode == 0, result.stderr
    assert SECRET_EMAIL in result.stdout


def test_issue_unsigned_rsa_token_refused(keys: Keys) -> None:
    result = cli("issue", "--encryption-key", keys.service_public)

    assert_usage_error(result)
    assert "--signing-key" in result.stderr


@pytest.mark.parametrize("claims", ['{"sub": ', "[1, 2]", "@/nonexistent/claims.json"])
def test_issue_bad_claims_usage_error(keys: Keys, claims: str) -> None:
    result = cli("issue", "--encryption-key", keys.secret, "--claims", claims)

    assert_usage_error(result)
    assert result.stdout == ""


def deeply_nested(depth: int) -> str:
    return '{"a": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    "text",
    ["[" * 5_000 + "]" * 5_000, deeply_nested(5_000), deeply_nested(8)],
    ids=["arrays-5000", "member-5000", "past-decoder-limit"],
)
def test_issue_deeply_nested_claims_file_one_line_usage_error(
    keys: Keys, tmp_path: Path, text: str
) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(text)

    result = cli("issue", "--encryption-key", keys.secret, "--claims", f"@{claims}")

    assert_usage_error(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nested too deeply" in result.stderr
    assert result.stdout == ""


def test_issue_claims_at_decoder_nesting_limit_round_trip(keys: Keys) -> None:
    token = cli("issue", "--encryption-key", keys.secret, "--claims", deeply_nested(7))
    assert token.returncode == 0, token.stderr

    result = cli("inspect", token.stdout.strip(), "--decryption-keys", keys.secret)

    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ('{"a": NaN}', "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": [-Infinity]}', "-Infinity"),
        ('{"a": 1e400}', "out of range"),
        ('{"a": 1, "a": 2}', "duplicate"),
        ('{"a": 1' + "0" * 5_000 + "}", "too many digits"),
        (os.fsdecode(b'{"a": "\xff"}'), "not UTF-8"),
    ],
    ids=["nan", "infinity", "minus-infinity", "overflow", "duplicate-name", "digits", "not-utf8"],
)
def test_issue_claims_not_strict_json_usage_error(keys: Keys, claims: str, reason: str) -> None:
    result = cli("issue", "--encryption-key", keys.secret, "--claims", claims)

    assert_usage_error(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert reason in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("lifetime", ["3600", str(MAX_LIFETIME)])
def test_issue_lifetime_sets_exp_after_iat(keys: Keys, lifetime: str) -> None:
    token = cli("issue", "--encryption-key", keys.secret, "--lifetime", lifetime)
    assert token.returncode == 0, token.stderr

    result = cli("inspect", token.stdout.strip(), "--decryption-keys", keys.secret, "--reveal")

    assert result.returncode == 0, result.stdout
    claims = json.loads(result.stdout.split("claims: ", 1)[1])
    assert claims["exp"] - claims["iat"] == int(lifetime)


@pytest.mark.parametrize(
    "lifetime", ["1e300", str(MAX_LIFETIME + 1), "inf", "nan", "0", "-5", "soon"]
)
def test_issue_lifetime_out_of_range_usage_error(keys: Keys, lifetime: str) -> None:
    result = cli("issue", "--encryption-key", keys.secret, "--lifetime", lifetime)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("jwe-middleware") and "--lifetime" in last_line
    assert result.stdout == ""


def test_issue_several_keys_needs_kid(keys: Keys, tmp_path: Path) -> None:
    both = tmp_path / "both.json"
    rings = [KeyRing.from_file(keys.secret), KeyRing.from_file(keys.service_public)]
    both.write_text(json.dumps({"keys": [*rings[0].private_jwks()["keys"],
                                         *rings[1].public_jwks()["keys"]]}))
    kid = next(iter(rings[0])).kid

    assert_usage_error(cli("issue", "--encryption-key", both))

    assert cli("issue", "--encryption-key", both, "--kid", kid).returncode == 0


# -- bad files -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        None,
        b"{not json",
        b"\xff\xfe\x00garbage",
        b'{"keys": [{"kty": "oct", "k": "AAAA", "alg": "A256KW"}]}',
        b'{"keys": [{"kty": "EC", "crv": "P-256"}]}',
        b'{"keys": "none"}',
        b"[]",
    ],
    ids=["missing", "not-json", "not-utf8", "short-secret", "no-alg", "keys-not-list", "array"],
)
def test_inspect_bad_key_file_usage_error(
    tmp_path: Path, token: str, content: bytes | None
) -> None:
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_bytes(content)

    result = cli("inspect", token, "--decryption-keys", path)

    assert_usage_error(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_inspect_public_key_cannot_decrypt_usage_error(keys: Keys, token: str) -> None:
    result = cli(
        "inspect", token,
        "--decryption-keys", keys.service_public,
        "--verification-keys", keys.issuer_public,
    )

    assert_usage_error(result)
    assert "cannot decrypt" in result.stderr


def test_inspect_verification_keys_alone_usage_error(keys: Keys, token: str) -> None:
    result = cli("inspect", token, "--verification-keys", keys.issuer_public)

    assert_usage_error(result)


def test_inspect_at_a_moment_before_the_token_existed_is_immature(keys: Keys, token: str) -> None:
    result = inspect_with_keys(keys, token, "--at", f"{time.time() - 7200:.0f}")

    assert result.returncode == 1
    assert "invalid: not_yet_valid" in result.stdout


def test_issue_claims_naming_exp_refused_with_usage_error(keys: Keys) -> None:
    result = cli(
        "issue", "--encryption-key", keys.service_public, "--signing-key", keys.issuer,
        "--claims", '{"exp": 1000000000}',
    )

    assert result.returncode == 2
    assert "exp" in result.stderr and "Traceback" not in result.stderr


# -- the installed command ---------------------------------------------------------


def test_console_script_round_trip(tmp_path: Path) -> None:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"{CONSOLE_SCRIPT} is not installed")
    secret = tmp_path / "secret.json"
    script = str(CONSOLE_SCRIPT)

    assert run([script, "keygen", "--alg", "A256KW", "--out", str(secret)]).returncode == 0
    token = run([script, "issue", "--encryption-key", str(secret), "--claims", '{"sub": "u"}'])
    result = run([script, "inspect", "-", "--decryption-keys", str(secret)], stdin=token.stdout)

    assert token.returncode == 0, token.stderr
    assert result.returncode == 0, result.stderr
    assert "valid:" in result.stdout
    assert run([script, "inspect", token.stdout.strip(), "--reveal"]).returncode == 2
