"""Schedule specs: when a schedule fires.

A spec is a timing expression, an IANA timezone (default `UTC`), an optional jitter and an
optional window (`start_at`, `end_at`). This module validates specs and computes their fire times.
It is pure: no I/O and no clock (except the default `now` of `ScheduleSpec.parse`), so every
replica computes the same times.

Expressions
-----------
- Cron with 5 fields: `minute hour day-of-month month day-of-week`, e.g. `30 2 * * *`.
- Cron with 6 fields: a leading seconds field, `second minute hour day-of-month month day-of-week`,
  e.g. `*/10 * * * * *` (every ten seconds).
- Cron with 7 fields: the 6 fields and a year from 1970 to 2099, e.g. `0 0 12 * * ? 2027`.
  A year field of `*` means every year, as in the shorter forms.

  Each field is a comma-separated list of items. An item is `*`, a value `a`, or a range `a-b`,
  optionally followed by a step `/n`; `a/n` runs from `a` to the end of the field. Months may be
  named `JAN`-`DEC` and days of the week `SUN`-`SAT`, in any case. Day-of-week uses Unix
  numbering in every form: 0 and 7 are Sunday, 1 is Monday, 6 is Saturday (Quartz numbers Sunday
  1; names avoid the confusion). `?` is accepted as a whole day-of-month or day-of-week field and
  means `*`. Quartz's `L`, `W` and `#` are not supported.

  The two day fields combine as in Vixie cron: when both are restricted (neither begins with `*`
  nor is `?`), a day matches if either matches, so `0 0 1 * MON` fires on the 1st of each month
  and on every Monday; otherwise a day must match both, so `0 0 */10 * MON` fires on Mondays that
  fall on the 1st, 11th, 21st or 31st.
- Macros: `@yearly` and `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly`
  (`0 0 * * 0`), `@daily` and `@midnight` (`0 0 * * *`), `@hourly` (`0 * * * *`).
- `@every <duration>`: whole numbers of days, hours, minutes and seconds in that order, such as
  `30s`, `5m`, `1h30m` or `1d`; at least one second. It fires at every multiple of the duration
  since 1970-01-01T00:00:00Z, so its times never depend on when the schedule was created, on the
  timezone or on daylight saving time: `@every 1d` fires at midnight UTC, `@every 1h` on each UTC
  hour.

An expression that can never fire (`0 0 30 2 *`, the 30th of February), or whose window holds no
fire time, is rejected.

Time zones and daylight saving time
-----------------------------------
Cron expressions and macros are read in the wall-clock time of the schedule's timezone, under one
rule: each wall-clock time fires at most once per day.

- Fall back: a wall-clock time that happens twice fires at its first occurrence only; the
  repeated hour does not fire again. `30 1 * * *` in America/New_York on 2026-11-01 fires at
  01:30 EDT (05:30Z) and not at 01:30 EST (06:30Z).
- Spring forward: a wall-clock time that does not happen is not lost; it fires at the first
  instant after the gap. `30 2 * * *` in Europe/Berlin on 2026-03-29 fires at 03:00 CEST (01:00Z).
  All the times one gap skips share that one fire, and so does a time that falls on the end of
  the gap: `*/15 * * * *` fires at 01:45 CET (00:45Z), then once at 03:00 CEST (01:00Z) for
  02:00, 02:15, 02:30, 02:45 and 03:00, then at 03:15 CEST (01:15Z).

Fire times are aware UTC datetimes on whole seconds. `start_at` and `end_at` bound them, both
inclusive. Jitter delays each fire by an amount in [0, jitter) that depends only on the schedule
and the fire time, so that every replica agrees on it.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assay_common.errors import Invalid

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)
ONE_MICROSECOND = timedelta(microseconds=1)
#: Long enough for any sensible expression, short enough that no number in it is unreasonable.
MAX_EXPRESSION_LENGTH = 200

MACROS: Mapping[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
EVERY = "@every"
DURATION = re.compile(r"(?:(?P<days>\d+)d)?(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?(?:(?P<seconds>\d+)s)?")


class InvalidScheduleSpec(Invalid, ValueError):
    """The spec cannot be used; the message says why, e.g. "unknown timezone 'Mars/Base'"."""

    code = "invalid_schedule_spec"
    title = "The schedule's timing cannot be used"


@dataclass(frozen=True)
class CronField:
    """One field of a cron expression: its name in messages, the values it accepts, the last
    value of an open range (`*`, `a/n`), and the names it accepts for values."""

    name: str
    first: int
    last: int
    open_last: int
    names: Mapping[str, int] = field(default_factory=dict)
    accepts_question_mark: bool = False


MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
WEEKDAY_NAMES = {
    name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])
}

SECOND = CronField("second", 0, 59, 59)
MINUTE = CronField("minute", 0, 59, 59)
HOUR = CronField("hour", 0, 23, 23)
DAY_OF_MONTH = CronField("day-of-month", 1, 31, 31, accepts_question_mark=True)
MONTH = CronField("month", 1, 12, 12, MONTH_NAMES)
# 7 is another name of Sunday; open ranges stop at Saturday so that Sunday counts once.
DAY_OF_WEEK = CronField("day-of-week", 0, 7, 6, WEEKDAY_NAMES, accepts_question_mark=True)
YEAR = CronField("year", 1970, 2099, 2099)


class Timing(Protocol):
    def first_after(self, instant: datetime) -> datetime | None:
        """The first fire time strictly after `instant` (aware), as aware UTC; None if none is left."""


@dataclass(frozen=True)
class IntervalTiming:
    """`@every <interval>`: the multiples of the interval since the Unix epoch."""

    interval: timedelta

    def first_after(self, instant: datetime) -> datetime | None:
        periods = (instant - EPOCH) // self.interval + 1
        try:
            return EPOCH + periods * self.interval
        except OverflowError:  # later than the last time a datetime can hold
            return None


@dataclass(frozen=True)
class CronTiming:
    """A cron expression, read in the wall-clock time of `zone`."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: tuple[int, ...]
    weekdays: frozenset[int]  # 0 is Sunday
    years: tuple[int, ...] | None  # None: every year
    either_day_matches: bool  # both day fields are restricted (the Vixie cron rule)
    zone: ZoneInfo

    def first_after(self, instant: datetime) -> datetime | None:
        # Wall-clock times map to instants in the same order (a skipped time to the end of its gap,
        # a repeated one to its first occurrence), so the search starts at the wall-clock time of
        # `instant` and only passes over times of a repeated hour that map before it.
        wall = instant.astimezone(self.zone).replace(tzinfo=None, microsecond=0, fold=0)
        while (candidate := self.next_wall_time(wall)) is not None:
            fire = self.instant_of(candidate)
            if fire > instant:
                return fire
            wall = candidate + ONE_SECOND
        return None

    def next_wall_time(self, earliest: datetime) -> datetime | None:
        """The first wall-clock time at or after `earliest` (naive) that the fields match."""
        for day in self.matching_days(earliest.date()):
            time_of_day = self.first_time_of_day(earliest.time() if day == earliest.date() else time.min)
            if time_of_day is not None:
                return datetime.combine(day, time_of_day)
        return None

    def matching_days(self, first: date) -> Iterator[date]:
        """The days from `first` on that the year, month and day fields match, in order."""
        for year, month in self.months_from(first):
            first_day = first.day if (year, month) == (first.year, first.month) else 1
            for day in range(first_day, calendar.monthrange(year, month)[1] + 1):
                candidate = date(year, month, day)
                if self.is_matching_day(candidate):
                    yield candidate

    def months_from(self, first: date) -> Iterator[tuple[int, int]]:
        """The (year, month) pairs that the year and month fields match, from `first`'s month on."""
        years = range(first.year, MAXYEAR + 1) if self.years is None else self.years
        for year in years:
            for month in self.months:
                if (year, month) >= (first.year, first.month):
                    yield year, month

    def is_matching_day(self, day: date) -> bool:
        in_month = day.day in self.days_of_month
        in_week = day.isoweekday() % 7 in self.weekdays
        return in_month or in_week if self.either_day_matches else in_month and in_week

    def first_time_of_day(self, earliest: time) -> time | None:
        """The first time of day at or after `earliest` that the time fields match."""
        floor = (earliest.hour, earliest.minute, earliest.second)
        for hour in self.hours:
            if hour < floor[0]:
                continue
            for minute in self.minutes:
                if (hour, minute) < floor[:2]:
                    continue
                for second in self.seconds:
                    if (hour, minute, second) >= floor:
                        return time(hour, minute, second)
        return None

    def instant_of(self, wall: datetime) -> datetime:
        """When wall-clock time `wall` fires: at its first occurrence, or, when a gap skips it,
        at the end of the gap."""
        fire = wall.replace(tzinfo=self.zone).astimezone(UTC)
        if self.wall_time_of(fire) != wall:
            return self.end_of_gap(wall)
        return fire

    def end_of_gap(self, wall: datetime) -> datetime:
        """The first instant whose wall-clock time is later than `wall`, a time a gap skips."""
        # The two readings of a skipped time (with the offsets before and after the change) lie on
        # either side of the change; halve the span down to a second, as changes fall on seconds.
        before, after = sorted(wall.replace(tzinfo=self.zone, fold=fold).astimezone(UTC) for fold in (0, 1))
        while after - before > ONE_SECOND:
            middle = before + timedelta(seconds=(after - before) // ONE_SECOND // 2)
            if self.wall_time_of(middle) > wall:
                after = middle
            else:
                before = middle
        return after

    def wall_time_of(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)


@dataclass(frozen=True)
class ScheduleSpec:
    """When a schedule fires.

    Constructing a spec checks everything that does not depend on the clock, so a stored spec can
    be rebuilt even after its last fire time has passed; `parse`, for a write, also checks that the
    spec still fires after now.
    """

    expression: str  # a cron expression, a macro, or "@every <duration>"
    timezone: str = "UTC"  # an IANA name
    jitter: timedelta = timedelta(0)
    start_at: datetime | None = None  # aware; no fire before it
    end_at: datetime | None = None  # aware; no fire after it
    _timing: Timing = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_timing", parse_timing(self.expression, load_zone(self.timezone)))
        if self.jitter < timedelta(0):
            raise InvalidScheduleSpec("jitter must not be negative")
        check_window(self.start_at, self.end_at)
        first_possible = EPOCH if self.start_at is None else self.start_at - ONE_MICROSECOND
        if self.next_after(first_possible) is None:
            raise InvalidScheduleSpec(never_fires_reason(self.start_at, self.end_at))

    @classmethod
    def parse(
        cls,
        expression: str,
        timezone: str = "UTC",
        jitter_seconds: float = 0,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
        *,
        now: datetime | None = None,
    ) -> ScheduleSpec:
        """Validate a spec being written (raise InvalidScheduleSpec with the reason), including
        that it still fires after `now` (by default the current time): a spec whose years or
        window have passed is rejected."""
        spec = cls(expression, timezone, jitter_from_seconds(jitter_seconds), start_at, end_at)
        now = datetime.now(UTC) if now is None else require_aware(now, "now")
        if spec.next_after(now) is None:
            raise InvalidScheduleSpec(f"never fires after now ({now.astimezone(UTC).isoformat()})")
        return spec

    def next_after(self, after: datetime) -> datetime | None:
        """The first nominal fire time strictly after `after` (aware), as aware UTC, within the
        window; None when there is none any more (past `end_at`, or the year field exhausted)."""
        require_aware(after, "after")
        if self.end_at is not None and after >= self.end_at:
            return None
        if self.start_at is not None and after < self.start_at:
            after = self.start_at - ONE_MICROSECOND  # so that `start_at` itself may fire
        fire = self._timing.first_after(after)
        if fire is None or (self.end_at is not None and fire > self.end_at):
            return None
        return fire

    def fire_times(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """The nominal fire times in (after, until], at most `limit`, in order."""
        require_aware(until, "until")
        fires: list[datetime] = []
        while len(fires) < limit:
            fire = self.next_after(fires[-1] if fires else after)
            if fire is None or fire > until:
                break
            fires.append(fire)
        return fires

    def jitter_for(self, schedule_key: str, nominal: datetime) -> timedelta:
        """The delay in [0, jitter) of the fire at `nominal` of the schedule `schedule_key`. It
        derives from a hash of both, so every replica computes the same delay."""
        slot = require_aware(nominal, "nominal").astimezone(UTC).isoformat()
        span = self.jitter // ONE_MICROSECOND
        if span == 0:
            return timedelta(0)
        digest = hashlib.sha256(f"{schedule_key}\n{slot}".encode()).digest()
        return timedelta(microseconds=int.from_bytes(digest[:8], "big") % span)


def parse_timing(expression: str, zone: ZoneInfo) -> Timing:
    words = expression.split()
    if not words:
        raise InvalidScheduleSpec("empty expression")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidScheduleSpec(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    keyword = words[0].lower()
    if keyword == EVERY:
        if len(words) != 2:
            raise InvalidScheduleSpec("@every: expected one duration, e.g. '@every 5m'")
        return IntervalTiming(parse_interval(words[1]))
    if keyword.startswith("@"):
        if keyword not in MACROS:
            raise InvalidScheduleSpec(f"unknown macro '{words[0]}' (known: {', '.join(MACROS)}, {EVERY})")
        if len(words) > 1:
            raise InvalidScheduleSpec(f"macro '{words[0]}' takes nothing after it")
        words = MACROS[keyword].split()
    return parse_cron(words, zone)


def parse_interval(text: str) -> timedelta:
    match = DURATION.fullmatch(text)
    if not text or match is None:
        raise InvalidScheduleSpec(
            f"@every: '{text}' is not a duration of whole days, hours, minutes and seconds "
            "(d, h, m, s) such as 30s, 5m, 1h30m or 1d"
        )
    amounts = {unit: int(amount) for unit, amount in match.groupdict(default="0").items()}
    try:
        interval = timedelta(**amounts)
    except OverflowError:
        raise InvalidScheduleSpec(f"@every: duration '{text}' is too long") from None
    if interval < ONE_SECOND:
        raise InvalidScheduleSpec(f"@every: duration '{text}' must be at least 1s")
    return interval


def parse_cron(fields: list[str], zone: ZoneInfo) -> CronTiming:
    if len(fields) not in (5, 6, 7):
        raise InvalidScheduleSpec(f"cron: expected 5, 6 or 7 fields, got {len(fields)}")
    if len(fields) == 5:
        fields = ["0", *fields]
    second, minute, hour, day_of_month, month, day_of_week, *year = fields
    years = None if year in ([], ["*"]) else tuple(sorted(parse_field(year[0], YEAR)))
    timing = CronTiming(
        seconds=tuple(sorted(parse_field(second, SECOND))),
        minutes=tuple(sorted(parse_field(minute, MINUTE))),
        hours=tuple(sorted(parse_field(hour, HOUR))),
        days_of_month=parse_field(day_of_month, DAY_OF_MONTH),
        months=tuple(sorted(parse_field(month, MONTH))),
        weekdays=frozenset(day % 7 for day in parse_field(day_of_week, DAY_OF_WEEK)),
        years=years,
        either_day_matches=is_restricted(day_of_month) and is_restricted(day_of_week),
        zone=zone,
    )
    check_days_occur(timing)
    return timing


def parse_field(text: str, spec: CronField) -> frozenset[int]:
    if text == "?" and spec.accepts_question_mark:
        text = "*"
    return frozenset(value for item in text.split(",") for value in parse_item(item, spec))


def parse_item(item: str, spec: CronField) -> range:
    """`*`, `a` or `a-b`, each optionally followed by `/step`; `a/step` runs to the field's end."""
    span, has_step, step_text = item.partition("/")
    step = parse_step(step_text, spec) if has_step else 1
    if span == "*":
        return range(spec.first, spec.open_last + 1, step)
    low_text, is_range, high_text = span.partition("-")
    if not low_text or (is_range and not high_text):
        raise InvalidScheduleSpec(f"cron: field '{spec.name}' item '{item}' is not a value or a range")
    low = parse_value(low_text, spec)
    if is_range:
        high = parse_value(high_text, spec)
        if high < low:
            raise InvalidScheduleSpec(f"cron: field '{spec.name}' range '{span}' runs backwards")
    else:
        high = max(low, spec.open_last) if has_step else low
    return range(low, high + 1, step)


def parse_value(text: str, spec: CronField) -> int:
    named = spec.names.get(text.upper())
    if named is not None:
        return named
    if not is_number(text):
        names = list(spec.names)
        kind = f"a number or a name {names[0]}-{names[-1]}" if names else "a number"
        raise InvalidScheduleSpec(f"cron: field '{spec.name}' value '{text}' is not {kind}")
    value = int(text)
    if not spec.first <= value <= spec.last:
        raise InvalidScheduleSpec(
            f"cron: field '{spec.name}' value {value} out of range {spec.first}-{spec.last}"
        )
    return value


def parse_step(text: str, spec: CronField) -> int:
    if not is_number(text):
        raise InvalidScheduleSpec(f"cron: field '{spec.name}' step '{text}' is not a number")
    if int(text) == 0:
        raise InvalidScheduleSpec(f"cron: field '{spec.name}' step must be at least 1")
    return int(text)


def is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def is_restricted(day_field: str) -> bool:
    return not (day_field.startswith("*") or day_field == "?")


def check_days_occur(timing: CronTiming) -> None:
    """Reject day-of-month values that no month of the month field has (every date recurs on
    every weekday, so when both day fields must match, a valid date is enough)."""
    if timing.either_day_matches:
        return
    # 2000 is a leap year: February can have 29 days.
    if any(
        day <= calendar.monthrange(2000, month)[1] for month in timing.months for day in timing.days_of_month
    ):
        return
    days = ",".join(str(day) for day in sorted(timing.days_of_month))
    months = ",".join(list(MONTH_NAMES)[month - 1] for month in timing.months)
    raise InvalidScheduleSpec(f"never fires: day-of-month {days} does not occur in {months}")


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # A name of a folder of zones (`America`) reaches the tzdata package as a directory to open.
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise InvalidScheduleSpec(f"unknown timezone '{name}'") from None


def jitter_from_seconds(seconds: float) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except (ValueError, OverflowError):  # NaN, infinities, and more seconds than a timedelta holds
        raise InvalidScheduleSpec(f"jitter {seconds!r} is not a usable number of seconds") from None


def check_window(start_at: datetime | None, end_at: datetime | None) -> None:
    for name, moment in (("start_at", start_at), ("end_at", end_at)):
        if moment is not None and not is_aware(moment):
            raise InvalidScheduleSpec(f"{name} must carry a timezone offset")
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidScheduleSpec("end_at must be later than start_at")


def never_fires_reason(start_at: datetime | None, end_at: datetime | None) -> str:
    if start_at is not None and end_at is not None:
        return "never fires between start_at and end_at"
    if start_at is not None:
        return "never fires at or after start_at"
    if end_at is not None:
        return "never fires before end_at"
    return "never fires in the years it allows"


def is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def require_aware(moment: datetime, name: str) -> datetime:
    if not is_aware(moment):
        raise ValueError(f"{name} must be an aware datetime")
    return moment
