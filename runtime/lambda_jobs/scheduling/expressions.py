"""EventBridge Scheduler's recurring expressions, ``rate(...)`` and ``cron(...)``: parse, evaluate.

One module, pure standard library, shared by everything that reads a recurring schedule: the
constructs validate ``JobSchedule`` with :func:`parse` (so ``cdk synth`` refuses what Scheduler
would refuse at deploy), the local emulator fires schedules with :meth:`Cron.next_after` /
:meth:`Rate.next_after`, and ``lambda-jobs schedules`` shows the next firings with
:func:`next_firings`.

The rules are AWS's, from the EventBridge Scheduler User Guide, "Schedule types in EventBridge
Scheduler" (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), and the
cron field reference it shares with EventBridge ("Cron expressions reference",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html):

- ``rate(value unit)``: a positive whole ``value``; ``unit`` is ``minute``/``minutes``,
  ``hour``/``hours`` or ``day``/``days`` (singular exactly when the value is 1). A day is 24 hours
  of elapsed time, whatever daylight-saving time does to the wall clock. The first firing is the
  schedule's start date, or its creation when it has none.
- ``cron(minutes hours day-of-month month day-of-week year)``: six fields; minutes 0-59, hours
  0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT (1 = Sunday), year
  1970-2199. The wildcards each field takes are the reference's table, field by field
  (:data:`CRON_WILDCARDS`, checked first): ``, - * /`` in minutes, hours, month and year;
  ``, - * ? / L W`` in day-of-month; ``, - * ? L #`` in day-of-week (no ``/`` there:
  ``cron(0 9 ? * 1/2 *)`` and ``MON/2`` are refused). One of day-of-month and day-of-week must be
  ``?`` (not both); day-of-month's ``L`` is the last day, ``nW`` the weekday nearest day n
  (within the month) and ``LW``; day-of-week takes ``L`` (Saturday, the last day of the week),
  ``nL`` (the last such day of the month) and ``n#k`` (the k-th such day of the month, alone in
  its field). A range whose start is past its end wraps (``20-2`` in hours is 20..23 and 0..2).
- Cron is evaluated on the wall clock of the schedule's time zone. When daylight-saving time
  springs forward, a firing at a local time that does not exist is skipped; when it falls back, a
  local time that happens twice fires once (at its first occurrence).

Everything here takes and returns aware ``datetime`` objects.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_YEAR = 1970
MAX_YEAR = 2199
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
CRON_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
#: The wildcards (non-alphanumeric characters) each cron field accepts, as the "Cron expressions
#: reference" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html)
#: lists them. The letters ``L``, ``W`` and the month/day names are checked by the field parsers.
CRON_WILDCARDS = {
    "minutes": ",-*/",
    "hours": ",-*/",
    "day-of-month": ",-*?/LW",
    "month": ",-*/",
    "day-of-week": ",-*?L#",
    "year": ",-*/",
}
CRON_HELP = (
    "cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 3 * * ? *) for 03:00 "
    "every day"
)
RATE_HELP = "rate(value unit) with unit minute(s), hour(s) or day(s), e.g. rate(5 minutes)"

_RATE = re.compile(r"^rate\((\S+) (\S+)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


class RecurrenceError(ValueError):
    """An expression or time zone Scheduler would refuse; the message says what is allowed."""


class Rate:
    """``rate(value unit)``: every ``seconds`` of elapsed time from an anchor."""

    __slots__ = ("expression", "seconds")

    def __init__(self, expression: str, seconds: int) -> None:
        self.expression = expression
        self.seconds = seconds

    def next_after(self, after: datetime, *, anchor: datetime) -> datetime:
        """The first firing strictly after ``after``; firings are ``anchor + k * interval``."""
        if after < anchor:
            return anchor
        steps = int((after - anchor).total_seconds() // self.seconds) + 1
        return anchor + timedelta(seconds=steps * self.seconds)


class _Field:
    """One cron field: the values it allows (plus the day fields' special forms)."""

    __slots__ = ("any", "values")

    def __init__(self, values: frozenset[int], *, any: bool = False) -> None:
        self.values = values
        self.any = any


class Cron:
    """``cron(...)``: the six fields, evaluated on the wall clock of a time zone."""

    __slots__ = (
        "dom",
        "dom_last",
        "dom_last_weekday",
        "dom_weekday",
        "dow",
        "dow_last",
        "dow_nth",
        "expression",
        "hours",
        "minutes",
        "months",
        "years",
    )

    def __init__(self, expression: str, fields: list[str]) -> None:
        self.expression = expression
        for name, text in zip(CRON_FIELDS, fields, strict=True):
            allowed = CRON_WILDCARDS[name]
            wrong = sorted({c for c in text if not c.isalnum() and c not in allowed})
            if wrong:
                raise RecurrenceError(
                    f"{expression}: {name} {text!r} uses {', '.join(repr(c) for c in wrong)}; the "
                    f"EventBridge cron reference allows only the wildcards {' '.join(allowed)} in "
                    f"{name}"
                )
        minutes, hours, dom, month, dow, year = fields
        self.minutes = sorted(_values(minutes, 0, 59, "minutes"))
        self.hours = sorted(_values(hours, 0, 23, "hours"))
        self.months = sorted(_values(month, 1, 12, "month", names=MONTHS))
        self.years = sorted(_values(year, MIN_YEAR, MAX_YEAR, "year", wrap=False))
        if (dom == "?") == (dow == "?"):
            raise RecurrenceError(
                f"{expression}: exactly one of day-of-month ({dom!r}) and day-of-week ({dow!r}) "
                "must be '?' (AWS: a value or * in one of them needs ? in the other)"
            )
        self.dom: frozenset[int] | None = None
        self.dom_last = False
        self.dom_last_weekday = False
        self.dom_weekday: int | None = None
        self.dow: frozenset[int] | None = None
        self.dow_last: int | None = None
        self.dow_nth: tuple[int, int] | None = None
        if dom != "?":
            self._day_of_month(dom)
        else:
            self._day_of_week(dow)

    def _day_of_month(self, text: str) -> None:
        if text == "L":
            self.dom_last = True
        elif text == "LW":
            self.dom_last_weekday = True
        elif text.endswith("W"):
            day = _number(text[:-1], 1, 31, "day-of-month", f"{text!r} (nW: n is 1-31)")
            self.dom_weekday = day
        else:
            self.dom = _values(text, 1, 31, "day-of-month")

    def _day_of_week(self, text: str) -> None:
        if "#" in text and "," in text:
            raise RecurrenceError(
                f"day-of-week {text!r}: a '#' expression must be alone in its field (AWS reads "
                "'3#1,6#3' as two expressions and refuses it)"
            )
        if "#" in text:
            day_text, _, nth_text = text.partition("#")
            day = _number(
                day_text, 1, 7, "day-of-week", f"{text!r} (n#k: n is 1-7 or SUN-SAT)", names=DAYS
            )
            nth = _number(nth_text, 1, 5, "day-of-week", f"{text!r} (n#k: k is 1-5)")
            self.dow_nth = (day, nth)
        elif text == "L":
            self.dow = frozenset({7})
        elif text.endswith("L"):
            self.dow_last = _number(
                text[:-1], 1, 7, "day-of-week", f"{text!r} (nL: n is 1-7 or SUN-SAT)", names=DAYS
            )
        else:
            self.dow = _values(text, 1, 7, "day-of-week", names=DAYS)

    def days(self, year: int, month: int) -> list[int]:
        """The days of ``month`` in ``year`` the day fields allow, in order."""
        last = calendar.monthrange(year, month)[1]
        if self.dom is not None:
            return [d for d in sorted(self.dom) if d <= last]
        if self.dom_last:
            return [last]
        if self.dom_last_weekday:
            return [_nearest_weekday(year, month, last, last)]
        if self.dom_weekday is not None:
            if self.dom_weekday > last:
                return []
            return [_nearest_weekday(year, month, self.dom_weekday, last)]
        found = []
        for day in range(1, last + 1):
            weekday = _cron_weekday(date(year, month, day))
            if (
                (self.dow is not None and weekday in self.dow)
                or (self.dow_last is not None and weekday == self.dow_last and day + 7 > last)
                or (
                    self.dow_nth is not None
                    and weekday == self.dow_nth[0]
                    and (day - 1) // 7 + 1 == self.dow_nth[1]
                )
            ):
                found.append(day)
        return found

    def next_after(self, after: datetime, zone: tzinfo) -> datetime | None:
        """The first firing strictly after ``after`` (aware), or None if there is none by 2199."""
        local = after.astimezone(zone)
        start = local.replace(tzinfo=None, second=0, microsecond=0)
        for year in self.years:
            if year < start.year:
                continue
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            wall = datetime(year, month, day, hour, minute)
                            if wall < start:
                                continue
                            moment = _resolve(wall, zone)
                            if moment is not None and moment > after:
                                return moment
        return None


def _resolve(wall: datetime, zone: tzinfo) -> datetime | None:
    """The instant of a wall-clock time in ``zone``; None when DST skips it (first of two)."""
    moment = wall.replace(tzinfo=zone, fold=0)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None  # spring forward: this local time does not exist
    return moment.astimezone(UTC)


def _cron_weekday(day: date) -> int:
    """1 = Sunday .. 7 = Saturday (AWS's day-of-week numbering)."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    """The Monday-Friday day nearest ``day``, never leaving the month (AWS's ``W``)."""
    weekday = date(year, month, day).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: Friday before, or Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, or Friday before on the last day
        return day + 1 if day < last else day - 2
    return day


def _number(
    text: str, low: int, high: int, field: str, what: str, *, names: tuple[str, ...] = ()
) -> int:
    upper = text.upper()
    if names and upper in names:
        return names.index(upper) + 1
    if not text.isdigit() or not low <= int(text) <= high:
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise RecurrenceError(f"{field} {what}: {text!r} is not in {allowed}")
    return int(text)


def _values(
    text: str,
    low: int,
    high: int,
    field: str,
    *,
    names: tuple[str, ...] = (),
    wrap: bool = True,
) -> frozenset[int]:
    """The values a field's ``,``-separated list of ``*``, ``n``, ``a-b`` and ``x/step`` allows."""
    if not text:
        raise RecurrenceError(f"{field} is empty")
    found: set[int] = set()
    for part in text.split(","):
        what = f"{part!r} in {text!r}"
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            step = _number(step_text, 1, high - low + 1, field, f"step of {what}")
        if body == "*":
            first, last = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            first = _number(a, low, high, field, what, names=names)
            last = _number(b, low, high, field, what, names=names)
        else:
            first = _number(body, low, high, field, what, names=names)
            last = high if slash else first
        if last < first and not wrap:
            raise RecurrenceError(f"{field} {what}: the range's start is after its end")
        span = (last - first) % (high - low + 1) if last < first else last - first
        for offset in range(0, span + 1, step):
            found.add(low + (first - low + offset) % (high - low + 1))
    return frozenset(found)


def parse(expression: str) -> Rate | Cron:
    """A ``rate(...)`` or ``cron(...)`` expression, checked as AWS documents it.

    Raises :class:`RecurrenceError` naming the part that is wrong and what is allowed.
    """
    if not isinstance(expression, str):
        raise RecurrenceError(f"expected a string, got {expression!r}")
    text = expression.strip()
    if text.startswith("rate"):
        return _rate(text)
    if text.startswith("cron"):
        match = _CRON.match(text)
        fields = match.group(1).split() if match else []
        if len(fields) != len(CRON_FIELDS):
            raise RecurrenceError(
                f"{expression!r} is not {CRON_HELP}: it has {len(fields)} fields, AWS's cron "
                f"has six ({' '.join(CRON_FIELDS)})"
            )
        return Cron(text, fields)
    raise RecurrenceError(f"{expression!r} is neither {RATE_HELP} nor {CRON_HELP}")


def _rate(text: str) -> Rate:
    match = _RATE.match(text)
    if match is None:
        raise RecurrenceError(f"{text!r} is not {RATE_HELP}")
    value_text, unit = match.groups()
    if not value_text.isdigit() or int(value_text) < 1:
        raise RecurrenceError(f"{text!r}: the value must be a whole number >= 1 ({RATE_HELP})")
    value = int(value_text)
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in RATE_UNITS:
        raise RecurrenceError(f"{text!r}: unit {unit!r} is not one of {RATE_HELP}")
    expected = singular if value == 1 else f"{singular}s"
    if unit != expected:
        raise RecurrenceError(
            f"{text!r}: write rate({value} {expected}) (AWS: singular unit exactly when the "
            "value is 1)"
        )
    return Rate(text, value * RATE_UNITS[singular])


def zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``UTC`` included); :class:`RecurrenceError` if unknown."""
    if name == "UTC":
        return UTC
    if isinstance(name, str) and name and not name.startswith(("/", ".")):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    from difflib import get_close_matches
    from zoneinfo import available_timezones

    close = get_close_matches(str(name), sorted(available_timezones()), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise RecurrenceError(
        f"{name!r} is not an IANA time zone name (e.g. 'UTC', 'Europe/Lisbon', "
        f"'America/New_York'){hint}"
    )


def as_datetime(value: object) -> datetime | None:
    """A Scheduler API date (``StartDate``, ``CreationDate``...) as an aware datetime, or None.

    boto3 gives aware datetimes; other clients epoch seconds or ISO 8601 text; naive means UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def next_firings(
    expression: str,
    timezone: str = "UTC",
    *,
    after: datetime,
    count: int = 3,
    start: datetime | None = None,
    end: datetime | None = None,
    created: datetime | None = None,
) -> list[datetime]:
    """The next ``count`` firings strictly after ``after`` (UTC datetimes), within start..end.

    A rate's firings count from ``start``, else from ``created`` (when the schedule was created:
    its first firing), else from ``after``. Pass an ``after`` just before ``created`` to include a
    schedule's first firing.
    """
    parsed = parse(expression)
    found: list[datetime] = []
    just_before = timedelta(microseconds=1)
    anchor = start or created or after
    if isinstance(parsed, Rate):
        cursor = after
    else:
        cursor = after if start is None else max(after, start - just_before)
    tz = zone(timezone)
    while len(found) < count:
        if isinstance(parsed, Rate):
            moment: datetime | None = parsed.next_after(cursor, anchor=anchor)
        else:
            moment = parsed.next_after(cursor, tz)
        if moment is None or (end is not None and moment > end):
            break
        found.append(moment.astimezone(UTC))
        cursor = moment
    return found
