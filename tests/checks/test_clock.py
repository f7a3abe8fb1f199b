"""The clock-skew rule, with synthetic readings (the lab's hosts share one clock)."""

from __future__ import annotations

import pytest

from harbor_wizard.checks.clock import clock_skew_problem, measure, parse_date

T = 1_700_000_000.0


def test_the_remote_reading_is_compared_with_the_round_trips_midpoint() -> None:
    skew = measure(T, T + 0.3 + 5.0, T + 0.6)
    assert skew.seconds == pytest.approx(5.0)
    assert skew.uncertainty == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("before", "remote", "after", "problem"),
    [
        (T, T + 0.05, T + 0.1, None),  # same clock
        (T, T + 0.05 + 1.9, T + 0.1, None),  # 1.9 s ahead: within the limit
        (T, T + 0.05 - 1.9, T + 0.1, None),  # 1.9 s behind
        (T, T + 0.05 + 2.5, T + 0.1, "its clock is 2.5 s ahead of the operator's (limit 2 s)"),
        (T, T + 0.05 - 30, T + 0.1, "its clock is 30.0 s behind the operator's (limit 2 s)"),
    ],
)
def test_skew_beyond_two_seconds_either_way(
    before: float, remote: float, after: float, problem: str | None
) -> None:
    assert clock_skew_problem(before, remote, after) == problem


def test_a_slow_reading_that_cannot_prove_the_limit_says_so() -> None:
    # 1.5 s off as measured, but the command took 3 s: the truth lies within 0-3 s.
    problem = clock_skew_problem(T, T + 1.5 + 1.5, T + 3.0)
    assert problem is not None
    assert "could not be compared within 2 s: the reading took 3.0 s" in problem
    # A skew larger than the limit plus the whole uncertainty is still proved.
    assert clock_skew_problem(T, T + 1.5 + 10, T + 3.0) == (
        "its clock is 10.0 s ahead of the operator's (limit 2 s)"
    )


def test_the_limit_is_a_parameter() -> None:
    assert clock_skew_problem(T, T + 0.05 + 1.0, T + 0.1, limit=0.5) is not None


def test_date_output() -> None:
    assert parse_date("1700000000.123456789\n") == pytest.approx(1700000000.123456789)
    assert parse_date("1700000000.N\n") == 1700000000.0  # busybox date: no %N
