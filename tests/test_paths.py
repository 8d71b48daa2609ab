from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from jwe_middleware._paths import PathMatcher

PATTERNS = ["/health", "/static/*", "/docs", "/api/v1/public/*"]


@pytest.fixture
def matcher() -> PathMatcher:
    return PathMatcher(PATTERNS)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/health", True),
        ("/docs", True),
        ("/static/", True),
        ("/static/a", True),
        ("/static/a/b.css", True),
        ("/static//x", True),
        ("/api/v1/public/", True),
        ("/api/v1/public/x", True),
        ("/static", False),
        ("/staticfoo", False),
        ("/static.css", False),
        ("/api/v1/public", False),
        ("/api/v1/publicity", False),
        ("/health/", False),
        ("//health", False),
        ("/HEALTH", False),
        ("/Health", False),
        ("/health ", False),
        (" /health", False),
        ("/health%20", False),
        ("/health/x", False),
        ("/healthz", False),
        ("/admin/health", False),
        ("/admin?/health", False),
        ("/x/static/a", False),
        ("/./health", False),
        ("/admin/../health", False),
        ("health", False),
        ("", False),
        ("/", False),
        ("/docs/", False),
        ("/docsx", False),
    ],
)
def test_matches_default_patterns_decides(matcher: PathMatcher, path: str, expected: bool) -> None:
    assert matcher.matches(path) is expected


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        (["/"], "/", True),
        (["/"], "/x", False),
        (["/*"], "/", True),
        (["/*"], "/anything/at/all", True),
        (["/a/*", "/a"], "/a", True),
        (["/a/*", "/a"], "/a/b", True),
        (["/a/b/*"], "/a/b/c/d", True),
        (["/a/b/*"], "/a/bc", False),
        (["/ümlaut"], "/ümlaut", True),
        (["/ümlaut"], "/umlaut", False),
    ],
)
def test_matches_small_pattern_sets_decides(patterns: list[str], path: str, expected: bool) -> None:
    assert PathMatcher(patterns).matches(path) is expected


@pytest.mark.parametrize(
    "patterns",
    [
        [""],
        ["health"],
        ["*"],
        ["/static*"],
        ["/*/x"],
        ["/a*b"],
        ["/static/**"],
        ["/static/*/"],
        ["/static/*/*"],
        ["*/health"],
        [" /health"],
        ["/health", "relative"],
    ],
)
def test_init_bad_pattern_raises_value_error(patterns: list[str]) -> None:
    with pytest.raises(ValueError):
        PathMatcher(patterns)


@pytest.mark.parametrize("patterns", ["/health", b"/health", [b"/health"], [None], [1], None, 3])
def test_init_not_iterable_of_str_raises_type_error(patterns: Any) -> None:
    with pytest.raises(TypeError):
        PathMatcher(patterns)


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [([], False), ((), False), (["/health"], True), (["/static/*"], True)],
)
def test_bool_any_pattern_true(patterns: list[str], expected: bool) -> None:
    assert bool(PathMatcher(patterns)) is expected


def test_init_generator_accepted() -> None:
    matcher = PathMatcher(p for p in ["/health", "/static/*"])
    assert matcher.matches("/health")
    assert matcher.matches("/static/x")


def test_matches_no_patterns_never_matches() -> None:
    matcher = PathMatcher([])
    assert not matcher.matches("/")
    assert not matcher.matches("")


def test_repr_patterns_listed() -> None:
    assert repr(PathMatcher(["/health", "/static/*"])) == "PathMatcher(['/health', '/static/*'])"


@pytest.mark.parametrize(
    ("patterns", "pattern", "covered"),
    [
        (["/health"], "/health", True),
        (["/health"], "/healthz", False),
        (["/static/*"], "/static/app.js", True),
        (["/static/*"], "/static/img/*", True),
        (["/static/*"], "/static/*", True),
        (["/static/img/*"], "/static/*", False),
        (["/static/", "/health"], "/static/*", False),
        (["/*"], "/anything/*", True),
        ([], "/health", False),
    ],
)
def test_covers_only_when_every_matched_path_is_matched(
    patterns: list[str], pattern: str, covered: bool
) -> None:
    assert PathMatcher(patterns).covers(pattern) is covered


@given(pattern=st.sampled_from(["/static/*", "/static/img/*", "/health", "/a/*"]), rest=st.text())
def test_covers_implies_matches_for_every_path_below(pattern: str, rest: str) -> None:
    matcher = PathMatcher(["/static/*", "/health"])
    path = pattern[:-1] + rest if pattern.endswith("/*") else pattern
    if matcher.covers(pattern):
        assert matcher.matches(path)


# -- properties ------------------------------------------------------------------


@given(path=st.text())
def test_matches_arbitrary_path_never_raises(path: str) -> None:
    assert isinstance(PathMatcher(PATTERNS).matches(path), bool)


@given(before=st.text(), after=st.text())
def test_matches_exact_pattern_as_substring_never_matches(before: str, after: str) -> None:
    path = before + "/health" + after
    assume(path != "/health")
    assert not PathMatcher(["/health"]).matches(path)


@given(before=st.text(min_size=1), after=st.text())
def test_matches_prefix_pattern_not_at_start_never_matches(before: str, after: str) -> None:
    path = before + "/static/" + after
    assume(not path.startswith("/static/"))
    assert not PathMatcher(["/static/*"]).matches(path)


@given(after=st.text())
def test_matches_prefix_pattern_at_start_always_matches(after: str) -> None:
    assert PathMatcher(["/static/*"]).matches("/static/" + after)
