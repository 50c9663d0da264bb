"""``lambda_jobs.scheduling.expressions``: AWS's cron and rate expressions, parsed and evaluated.

The cron examples are the ones AWS documents ("Cron expressions reference" in the EventBridge
User Guide, which the Scheduler User Guide's "Schedule types" page points to), each checked for
its documented meaning; then the special characters (``L``, ``W``, ``#``), the ends of months,
and a daylight-saving change in a time zone that has one (AWS: a local time skipped by the
spring-forward change does not fire; one repeated by the fall-back change fires once).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lambda_jobs.scheduling.expressions import Rate, RecurrenceError, next_firings, parse, zone

# Friday 2026-12-04 01:30 UTC
AFTER = datetime(2026, 12, 4, 1, 30, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc, arg-type]


def firings(
    expression: str, count: int = 3, timezone: str = "UTC", **kw: datetime
) -> list[datetime]:
    after = kw.pop("after", AFTER)
    return next_firings(expression, timezone, after=after, count=count, **kw)


AWS_EXAMPLES = [
    # 10:00 am (UTC) every day
    ("cron(0 10 * * ? *)", [utc(2026, 12, 4, 10), utc(2026, 12, 5, 10), utc(2026, 12, 6, 10)]),
    # 12:15 pm (UTC) every day
    (
        "cron(15 12 * * ? *)",
        [utc(2026, 12, 4, 12, 15), utc(2026, 12, 5, 12, 15), utc(2026, 12, 6, 12, 15)],
    ),
    # 6:00 pm Monday through Friday (Friday, then Monday, Tuesday)
    (
        "cron(0 18 ? * MON-FRI *)",
        [utc(2026, 12, 4, 18), utc(2026, 12, 7, 18), utc(2026, 12, 8, 18)],
    ),
    # 8:00 am on the first day of the month
    ("cron(0 8 1 * ? *)", [utc(2027, 1, 1, 8), utc(2027, 2, 1, 8), utc(2027, 3, 1, 8)]),
    # every 15 minutes
    (
        "cron(0/15 * * * ? *)",
        [utc(2026, 12, 4, 1, 45), utc(2026, 12, 4, 2), utc(2026, 12, 4, 2, 15)],
    ),
    # every 10 minutes Monday through Friday
    (
        "cron(0/10 * ? * MON-FRI *)",
        [utc(2026, 12, 4, 1, 40), utc(2026, 12, 4, 1, 50), utc(2026, 12, 4, 2)],
    ),
    # every 5 minutes Monday through Friday between 8:00 am and 5:55 pm
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        [utc(2026, 12, 4, 8), utc(2026, 12, 4, 8, 5), utc(2026, 12, 4, 8, 10)],
    ),
    # every 30 minutes Monday through Friday, 10:00 pm to 2:00 am (a range that wraps)
    (
        "cron(0/30 20-2 ? * MON-FRI *)",
        [utc(2026, 12, 4, 2), utc(2026, 12, 4, 2, 30), utc(2026, 12, 4, 20)],
    ),
    # 9:00 am on the second Tuesday of the month (3#2: the 3rd day of the week, 2nd of the month)
    ("cron(0 9 ? * 3#2 *)", [utc(2026, 12, 8, 9), utc(2027, 1, 12, 9), utc(2027, 2, 9, 9)]),
    # the weekday nearest the 3rd (3W): Sunday 3 Jan 2027 -> Monday 4; 3 Feb Wednesday
    ("cron(0 9 3W * ? *)", [utc(2027, 1, 4, 9), utc(2027, 2, 3, 9), utc(2027, 3, 3, 9)]),
]


@pytest.mark.parametrize(("expression", "expected"), AWS_EXAMPLES)
def test_aws_documented_examples(expression: str, expected: list[datetime]) -> None:
    assert firings(expression) == expected


def test_last_day_of_month_in_every_month_length() -> None:
    got = firings("cron(0 0 L * ? *)", count=4, after=utc(2027, 12, 15))
    assert got == [utc(2027, 12, 31), utc(2028, 1, 31), utc(2028, 2, 29), utc(2028, 3, 31)]
    assert firings("cron(0 0 L 2 ? *)", count=2, after=utc(2027, 1, 1)) == [
        utc(2027, 2, 28),
        utc(2028, 2, 29),
    ]


def test_day_31_skips_the_months_without_one() -> None:
    got = firings("cron(0 12 31 * ? *)", count=3, after=utc(2027, 1, 31, 13))
    assert got == [utc(2027, 3, 31, 12), utc(2027, 5, 31, 12), utc(2027, 7, 31, 12)]


def test_last_weekday_and_weekday_nearest_never_leave_the_month() -> None:
    # LW: 31 Jan 2027 is a Sunday -> Friday 29; 28 Feb 2027 is a Sunday -> Friday 26.
    assert firings("cron(0 0 LW * ? *)", count=2, after=utc(2027, 1, 1)) == [
        utc(2027, 1, 29),
        utc(2027, 2, 26),
    ]
    # 1W: 1 May 2027 is a Saturday -> Monday 3 (not Friday 30 April).
    assert firings("cron(0 0 1W 5 ? *)", count=1, after=utc(2027, 1, 1)) == [utc(2027, 5, 3)]
    # 31W: 31 Oct 2027 is a Sunday -> Friday 29 (not Monday 1 November).
    assert firings("cron(0 0 31W 10 ? *)", count=1, after=utc(2027, 1, 1)) == [utc(2027, 10, 29)]


def test_last_given_weekday_of_the_month_and_l_alone_is_saturday() -> None:
    # 6L: the last Friday of the month
    assert firings("cron(15 10 ? * 6L *)") == [
        utc(2026, 12, 25, 10, 15),
        utc(2027, 1, 29, 10, 15),
        utc(2027, 2, 26, 10, 15),
    ]
    assert firings("cron(0 0 ? * L *)", count=2) == [utc(2026, 12, 5), utc(2026, 12, 12)]


def test_fifth_weekday_only_in_months_that_have_one() -> None:
    # 2#5: the fifth Monday; Dec 2026 has 4 Mondays, Feb 2027 none, March 2027 has 5 (29th).
    assert firings("cron(0 0 ? * 2#5 *)", count=1) == [utc(2027, 3, 29)]


def test_names_lists_steps_and_years() -> None:
    assert firings("cron(0 0 1 JAN,JUL ? 2027-2028)", count=5) == [
        utc(2027, 1, 1),
        utc(2027, 7, 1),
        utc(2028, 1, 1),
        utc(2028, 7, 1),
    ]
    assert firings("cron(5-20/5 3 * * ? *)", count=4) == [
        utc(2026, 12, 4, 3, 5),
        utc(2026, 12, 4, 3, 10),
        utc(2026, 12, 4, 3, 15),
        utc(2026, 12, 4, 3, 20),
    ]
    assert firings("cron(0 0 ? * FRI-MON *)", count=4) == [
        utc(2026, 12, 5),
        utc(2026, 12, 6),
        utc(2026, 12, 7),
        utc(2026, 12, 11),
    ]


def test_time_zone_evaluates_on_the_local_wall_clock() -> None:
    # 03:00 in Lisbon is 03:00 UTC in winter and 02:00 UTC in summer.
    assert firings("cron(0 3 * * ? *)", 1, "Europe/Lisbon") == [utc(2026, 12, 4, 3)]
    july = utc(2027, 7, 1)
    assert firings("cron(0 3 * * ? *)", 1, "Europe/Lisbon", after=july) == [utc(2027, 7, 1, 2)]
    assert firings("cron(0 9 * * ? *)", 1, "America/New_York") == [utc(2026, 12, 4, 14)]


def test_spring_forward_skips_the_local_time_that_does_not_exist() -> None:
    # Lisbon, Sunday 28 March 2027: 01:00 -> 02:00, so 01:30 does not exist that day.
    got = firings("cron(30 1 * * ? *)", 4, "Europe/Lisbon", after=utc(2027, 3, 26))
    assert got == [
        utc(2027, 3, 26, 1, 30),
        utc(2027, 3, 27, 1, 30),
        utc(2027, 3, 29, 0, 30),  # 01:30 WEST
        utc(2027, 3, 30, 0, 30),
    ]


def test_fall_back_fires_a_repeated_local_time_once() -> None:
    # Lisbon, Sunday 25 October 2026: 02:00 -> 01:00, so 01:30 happens twice; fired once.
    got = firings("cron(30 1 * * ? *)", 3, "Europe/Lisbon", after=utc(2026, 10, 24, 12))
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)]
    every_half_hour = firings(
        "cron(0/30 * * * ? *)", 4, "Europe/Lisbon", after=utc(2026, 10, 25, 0, 10)
    )
    # 01:30 WEST (00:30 UTC), then the repeated hour is not fired again: next is 02:00 WET.
    assert every_half_hour == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 2),
        utc(2026, 10, 25, 2, 30),
        utc(2026, 10, 25, 3),
    ]


def test_rate_counts_elapsed_time_from_its_start_across_dst() -> None:
    start = utc(2027, 3, 27, 12)
    got = firings("rate(1 day)", 3, "Europe/Lisbon", start=start, after=start - timedelta(hours=1))
    # 24 hours of elapsed time each, whatever the wall clock does on the 28th.
    assert got == [start, start + timedelta(days=1), start + timedelta(days=2)]
    created = utc(2026, 12, 4, 1, 7)
    assert firings("rate(15 minutes)", 2, created=created) == [
        utc(2026, 12, 4, 1, 37),
        utc(2026, 12, 4, 1, 52),
    ]
    rate = parse("rate(2 hours)")
    assert isinstance(rate, Rate) and rate.seconds == 7200


def test_start_and_end_bound_the_firings() -> None:
    start, end = utc(2027, 1, 1), utc(2027, 1, 3, 12)
    assert firings("cron(0 12 * * ? *)", 5, start=start, end=end) == [
        utc(2027, 1, 1, 12),
        utc(2027, 1, 2, 12),
        utc(2027, 1, 3, 12),
    ]
    assert firings("cron(0 0 30 2 ? *)", 1) == []  # February 30 never comes


BAD = [
    ("cron(0 10 * * * *)", r"exactly one of day-of-month \('\*'\) and day-of-week \('\*'\)"),
    ("cron(0 10 ? * ? *)", r"exactly one of day-of-month"),
    ("cron(0 10 * * ?)", r"it has 5 fields, AWS's cron has six"),
    ("cron(60 * * * ? *)", r"minutes '60' in '60': '60' is not in 0-59"),
    ("cron(0 0 0 * ? *)", r"day-of-month .* not in 1-31"),
    ("cron(0 0 ? * 0 *)", r"day-of-week .* not in 1-7 or SUN-SAT"),
    ("cron(0 0 ? FOO * *)", r"month"),
    ("cron(0 0 * * ? 1969)", r"year .* not in 1970-2199"),
    ("cron(0 0 * * ? 2030-2027)", r"the range's start is after its end"),
    ("cron(0 0 ? * 3#1,6#3 *)", r"a '#' expression must be alone in its field"),
    ("cron(0 0 ? * 3#0 *)", r"k is 1-5"),
    ("cron(0 0 ? * 9L *)", r"nL: n is 1-7"),
    ("cron(0 0 0W * ? *)", r"nW: n is 1-31"),
    ("cron(*/0 * * * ? *)", r"step of"),
    # The reference's wildcard table, field by field: no '/' in day-of-week.
    (
        "cron(0 9 ? * 1/2 *)",
        r"day-of-week '1/2' uses '/'; the EventBridge cron reference allows only the wildcards "
        r", - \* \? L # in day-of-week",
    ),
    ("cron(0 9 ? * MON/2 *)", r"day-of-week 'MON/2' uses '/'"),
    ("cron(0 9 ? * */2 *)", r"day-of-week '\*/2' uses '/'"),
    ("cron(? 9 * * ? *)", r"minutes '\?' uses '\?'.* , - \* / in minutes"),
    ("cron(0 ? * * ? *)", r"hours '\?' uses '\?'"),
    ("cron(0 9 1#2 * ? *)", r"day-of-month '1#2' uses '#'"),
    ("cron(0 9 * JAN#1 ? *)", r"month 'JAN#1' uses '#'"),
    ("cron(0 9 * * ? 2030#1)", r"year '2030#1' uses '#'"),
    ("rate(1 minutes)", r"write rate\(1 minute\)"),
    ("rate(2 hour)", r"write rate\(2 hours\)"),
    ("rate(0 days)", r"the value must be a whole number >= 1"),
    ("rate(-5 minutes)", r"the value must be a whole number >= 1"),
    ("rate(5 seconds)", r"unit 'seconds' is not one of"),
    ("rate(5)", r"is not rate\(value unit\)"),
    ("at(2027-01-01T00:00:00)", r"is neither rate\(value unit\)"),
]


@pytest.mark.parametrize(("expression", "message"), BAD)
def test_expressions_scheduler_refuses_are_refused_naming_what_is_allowed(
    expression: str, message: str
) -> None:
    with pytest.raises(RecurrenceError, match=message):
        parse(expression)


def test_time_zones_are_iana_names() -> None:
    assert zone("UTC") is UTC
    assert str(zone("Europe/Lisbon")) == "Europe/Lisbon"
    with pytest.raises(RecurrenceError, match=r"did you mean .*America/New_York"):
        zone("America/NewYork")
    with pytest.raises(RecurrenceError, match=r"is not an IANA time zone name"):
        zone("../../etc/passwd")
