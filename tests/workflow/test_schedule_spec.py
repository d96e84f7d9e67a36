"""Schedule specs: the forms they accept, what they reject and why, and exactly when they fire,
across month ends, leap years, windows and daylight saving time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from assay_common.errors import Invalid
from assay_workflow.domain.schedule_spec import InvalidScheduleSpec, ScheduleSpec

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


def utc(text: str) -> datetime:
    """An instant written in UTC, e.g. "2026-03-29 01:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(expression: str, after: str, count: int, timezone: str = "UTC") -> list[datetime]:
    """The first `count` fire times of a spec written at `after`, after `after`."""
    spec = ScheduleSpec.parse(expression, timezone, now=utc(after))
    return spec.fire_times(utc(after), FAR_FUTURE, count)


def rejection(
    expression: str,
    timezone: str = "UTC",
    jitter_seconds: float = 0,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> str:
    """Why a spec written at NOW is rejected."""
    with pytest.raises(InvalidScheduleSpec) as raised:
        ScheduleSpec.parse(expression, timezone, jitter_seconds, start_at, end_at, now=NOW)
    return str(raised.value)


# 2026-06-05 is a Friday.
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/20 9-10 * * MON-FRI", ["2026-06-05 10:40", "2026-06-08 09:00", "2026-06-08 09:20"]),
        ("0 8,12,18 * * *", ["2026-06-05 12:00", "2026-06-05 18:00", "2026-06-06 08:00"]),
        ("0 9-17/4 * * *", ["2026-06-05 13:00", "2026-06-05 17:00", "2026-06-06 09:00"]),
        ("45/5 * * * *", ["2026-06-05 10:45", "2026-06-05 10:50", "2026-06-05 10:55", "2026-06-05 11:45"]),
        ("0 0 1 jan,Jul *", ["2026-07-01", "2027-01-01", "2027-07-01"]),
        ("0 0 * * 0", ["2026-06-07", "2026-06-14"]),
        ("0 0 * * 7", ["2026-06-07", "2026-06-14"]),
        ("0 0 * * sun", ["2026-06-07", "2026-06-14"]),
        ("0 0 * * 5-7", ["2026-06-06", "2026-06-07", "2026-06-12"]),
        # An open range of weekdays ends on Saturday: Sunday (7) is not "every other day from Monday".
        ("0 0 * * 1/2", ["2026-06-08", "2026-06-10", "2026-06-12", "2026-06-15"]),
        ("*/10 * * * * *", ["2026-06-05 10:30:10", "2026-06-05 10:30:20", "2026-06-05 10:30:30"]),
        ("30 15 10 * * *", ["2026-06-06 10:15:30", "2026-06-07 10:15:30"]),
        ("0 0 12 * * ? 2027", ["2027-01-01 12:00", "2027-01-02 12:00"]),
        ("0 0 12 * * ? *", ["2026-06-05 12:00", "2026-06-06 12:00"]),
        ("0 0 12 ? * MON", ["2026-06-08 12:00", "2026-06-15 12:00"]),
        # Both day fields restricted: the 13th, and every Friday.
        ("0 0 13 * FRI", ["2026-06-12", "2026-06-13", "2026-06-19"]),
        # A day field beginning with `*`: Mondays that fall on the 1st, 11th, 21st or 31st.
        ("0 0 */10 * MON", ["2026-08-31", "2026-09-21"]),
        ("@yearly", ["2027-01-01", "2028-01-01"]),
        ("@annually", ["2027-01-01", "2028-01-01"]),
        ("@monthly", ["2026-07-01", "2026-08-01"]),
        ("@weekly", ["2026-06-07", "2026-06-14"]),
        ("@daily", ["2026-06-06", "2026-06-07"]),
        ("@DAILY", ["2026-06-06", "2026-06-07"]),
        ("@midnight", ["2026-06-06", "2026-06-07"]),
        ("@hourly", ["2026-06-05 11:00", "2026-06-05 12:00"]),
    ],
)
def test_each_form_fires_at_the_times_it_names(expression: str, expected: list[str]) -> None:
    assert fires(expression, "2026-06-05 10:30", len(expected)) == [utc(t) for t in expected]


# 2026-01-01T00:00:00Z is a multiple of every interval below except 11m.
@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("30s", ["2026-01-01 00:00:30", "2026-01-01 00:01:00"]),
        ("5m", ["2026-01-01 00:05", "2026-01-01 00:10"]),
        ("1h30m", ["2026-01-01 01:30", "2026-01-01 03:00"]),
        ("2h", ["2026-01-01 02:00", "2026-01-01 04:00"]),
        ("1d", ["2026-01-02", "2026-01-03"]),
        ("1d12h", ["2026-01-02 12:00", "2026-01-04 00:00"]),
        ("11m", ["2026-01-01 00:05", "2026-01-01 00:16", "2026-01-01 00:27"]),
    ],
)
def test_every_fires_at_the_multiples_of_its_duration_since_the_epoch(
    duration: str, expected: list[str]
) -> None:
    assert fires(f"@every {duration}", "2026-01-01 00:00", len(expected)) == [utc(t) for t in expected]


def test_every_does_not_depend_on_when_it_was_written_its_timezone_or_daylight_saving() -> None:
    written_early = ScheduleSpec.parse("@every 1h", now=utc("2026-01-01 00:00"))
    written_late = ScheduleSpec.parse("@every 1h", "Europe/Berlin", now=utc("2026-03-29 00:59:59"))
    # Europe/Berlin springs forward at 01:00Z: the interval takes no notice.
    expected = [utc("2026-03-29 00:00"), utc("2026-03-29 01:00"), utc("2026-03-29 02:00")]
    after = utc("2026-03-28 23:30")

    assert written_early.fire_times(after, FAR_FUTURE, 3) == expected
    assert written_late.fire_times(after, FAR_FUTURE, 3) == expected
    assert fires("@every 1d", "2026-01-01 00:00", 1, "Asia/Kolkata") == [utc("2026-01-02 00:00")]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 0 31 * *", "2026-01-31", ["2026-03-31", "2026-05-31", "2026-07-31", "2026-08-31"]),
        ("59 59 23 31 12 * *", "2026-12-31 23:59:58", ["2026-12-31 23:59:59", "2027-12-31 23:59:59"]),
        ("0 12 28-31 2 *", "2027-02-27", ["2027-02-28 12:00", "2028-02-28 12:00", "2028-02-29 12:00"]),
        # 2100 is not a leap year.
        ("0 0 29 2 *", "2095-01-01", ["2096-02-29", "2104-02-29"]),
    ],
)
def test_month_ends_and_leap_days(expression: str, after: str, expected: list[str]) -> None:
    assert fires(expression, after, len(expected)) == [utc(t) for t in expected]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 0 12 1 1 ? 2027,2029", ["2027-01-01 12:00", "2029-01-01 12:00"]),
        ("0 0 0 1 1 ? */25", ["2045-01-01", "2070-01-01", "2095-01-01"]),
    ],
)
def test_a_year_field_runs_out(expression: str, expected: list[str]) -> None:
    spec = ScheduleSpec.parse(expression, now=NOW)

    assert spec.fire_times(NOW, FAR_FUTURE, 10) == [utc(t) for t in expected]
    assert spec.next_after(utc(expected[-1])) is None


def test_fire_times_leave_out_after_keep_until_and_stop_at_the_limit() -> None:
    spec = ScheduleSpec.parse("@hourly", now=NOW)
    after, until = utc("2026-06-05 10:00"), utc("2026-06-05 13:00")

    assert spec.fire_times(after, until, 10) == [utc("2026-06-05 11:00"), utc("2026-06-05 12:00"), until]
    assert spec.fire_times(after, until, 2) == [utc("2026-06-05 11:00"), utc("2026-06-05 12:00")]
    assert spec.fire_times(after, until, 0) == []


def test_the_window_bounds_fire_times_both_ends_included() -> None:
    start_at, end_at = utc("2026-06-05 10:00"), utc("2026-06-05 13:00")
    spec = ScheduleSpec.parse("@hourly", start_at=start_at, end_at=end_at, now=NOW)

    assert spec.fire_times(NOW, FAR_FUTURE, 10) == [
        start_at,
        utc("2026-06-05 11:00"),
        utc("2026-06-05 12:00"),
        end_at,
    ]
    assert spec.next_after(utc("2026-06-05 12:30")) == end_at
    assert spec.next_after(end_at) is None
    assert spec.next_after(utc("2027-01-01")) is None


def test_a_window_that_starts_between_fire_times_starts_at_the_next_one() -> None:
    hourly = ScheduleSpec.parse("@hourly", start_at=utc("2026-06-05 10:15"), now=NOW)
    every_11_minutes = ScheduleSpec.parse("@every 11m", start_at=utc("2026-01-01 00:00"), now=NOW)

    assert hourly.next_after(NOW) == utc("2026-06-05 11:00")
    assert every_11_minutes.next_after(utc("2025-01-01")) == utc("2026-01-01 00:05")


# Daylight saving time in 2026: Europe/Berlin springs forward on 03-29 at 01:00Z (02:00 CET →
# 03:00 CEST) and falls back on 10-25 at 01:00Z (03:00 CEST → 02:00 CET); America/New_York springs
# forward on 03-08 at 07:00Z (02:00 EST → 03:00 EDT) and falls back on 11-01 at 06:00Z (02:00 EDT →
# 01:00 EST).
@pytest.mark.parametrize(
    ("timezone", "expression", "after", "expected"),
    [
        # Berlin, spring forward: 02:30 does not happen that day and fires at 03:00 CEST.
        ("Europe/Berlin", "30 2 * * *", "2026-03-27 12:00", ["03-28 01:30", "03-29 01:00", "03-30 00:30"]),
        ("Europe/Berlin", "30 1 * * *", "2026-03-27 12:00", ["03-28 00:30", "03-29 00:30", "03-29 23:30"]),
        ("Europe/Berlin", "*/15 * * * *", "2026-03-29 00:30", ["03-29 00:45", "03-29 01:00", "03-29 01:15"]),
        (
            "Europe/Berlin",
            "*/10 * * * * *",
            "2026-03-29 00:59:40",
            ["03-29 00:59:50", "03-29 01:00:00", "03-29 01:00:10"],
        ),
        # Berlin, fall back: 02:00-02:59 happens twice and fires in CEST only.
        ("Europe/Berlin", "30 2 * * *", "2026-10-23 12:00", ["10-24 00:30", "10-25 00:30", "10-26 01:30"]),
        ("Europe/Berlin", "30 1 * * *", "2026-10-23 12:00", ["10-23 23:30", "10-24 23:30", "10-26 00:30"]),
        ("Europe/Berlin", "*/15 * * * *", "2026-10-25 00:30", ["10-25 00:45", "10-25 02:00", "10-25 02:15"]),
        (
            "Europe/Berlin",
            "*/10 * * * * *",
            "2026-10-25 00:59:40",
            ["10-25 00:59:50", "10-25 02:00:00", "10-25 02:00:10"],
        ),
        # New York, spring forward: 02:30 does not happen that day and fires at 03:00 EDT.
        ("America/New_York", "30 2 * * *", "2026-03-06 12:00", ["03-07 07:30", "03-08 07:00", "03-09 06:30"]),
        ("America/New_York", "30 1 * * *", "2026-03-06 12:00", ["03-07 06:30", "03-08 06:30", "03-09 05:30"]),
        (
            "America/New_York",
            "*/15 * * * *",
            "2026-03-08 06:30",
            ["03-08 06:45", "03-08 07:00", "03-08 07:15"],
        ),
        (
            "America/New_York",
            "*/10 * * * * *",
            "2026-03-08 06:59:40",
            ["03-08 06:59:50", "03-08 07:00:00", "03-08 07:00:10"],
        ),
        # New York, fall back: 01:00-01:59 happens twice and fires in EDT only.
        ("America/New_York", "30 2 * * *", "2026-10-30 12:00", ["10-31 06:30", "11-01 07:30", "11-02 07:30"]),
        ("America/New_York", "30 1 * * *", "2026-10-30 12:00", ["10-31 05:30", "11-01 05:30", "11-02 06:30"]),
        (
            "America/New_York",
            "*/15 * * * *",
            "2026-11-01 05:30",
            ["11-01 05:45", "11-01 07:00", "11-01 07:15"],
        ),
        (
            "America/New_York",
            "*/10 * * * * *",
            "2026-11-01 05:59:40",
            ["11-01 05:59:50", "11-01 07:00:00", "11-01 07:00:10"],
        ),
        # Santiago springs forward at midnight (00:00 -04 → 01:00 -03 on 09-06 at 04:00Z).
        ("America/Santiago", "@daily", "2026-09-04 12:00", ["09-05 04:00", "09-06 04:00", "09-07 03:00"]),
        # Lord Howe Island moves by half an hour (02:00 +10:30 → 02:30 +11:00 on 10-04 at 15:30Z).
        (
            "Australia/Lord_Howe",
            "15 2 * * *",
            "2026-10-02 00:00",
            ["10-02 15:45", "10-03 15:30", "10-04 15:15"],
        ),
    ],
)
def test_daylight_saving_time_never_loses_a_fire_and_never_repeats_one(
    timezone: str, expression: str, after: str, expected: list[str]
) -> None:
    assert fires(expression, after, len(expected), timezone) == [utc(f"2026-{t}") for t in expected]


def test_a_skipped_time_and_the_end_of_its_gap_fire_once_together() -> None:
    spec = ScheduleSpec.parse("0 2,3 * * *", "Europe/Berlin", now=utc("2026-03-28"))

    assert spec.fire_times(utc("2026-03-28 12:00"), FAR_FUTURE, 3) == [
        utc("2026-03-29 01:00"),  # 02:00 (skipped) and 03:00 CEST
        utc("2026-03-30 00:00"),
        utc("2026-03-30 01:00"),
    ]
    assert spec.next_after(utc("2026-03-29 01:00")) == utc("2026-03-30 00:00")


def test_from_inside_a_repeated_hour_the_next_fire_is_after_it() -> None:
    spec = ScheduleSpec.parse("*/15 * * * *", "Europe/Berlin", now=utc("2026-10-24"))

    # 01:10Z is 02:10 CET, the second 02:10 of the night.
    assert spec.next_after(utc("2026-10-25 01:10")) == utc("2026-10-25 02:00")


def test_fire_times_are_utc_whatever_the_offset_of_the_question() -> None:
    spec = ScheduleSpec.parse("0 9 * * *", "Asia/Tokyo", now=NOW)

    fire = spec.next_after(datetime(2026, 6, 5, 10, 0, tzinfo=timezone(timedelta(hours=9))))

    assert fire == utc("2026-06-06 00:00")
    assert fire is not None and fire.tzinfo is UTC


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("* " * 101, "expression is longer than 200 characters"),
        ("* * * *", "cron: expected 5, 6 or 7 fields, got 4"),
        ("0 0 0 1 1 * 2027 0", "cron: expected 5, 6 or 7 fields, got 8"),
        ("60 0 0 * * *", "cron: field 'second' value 60 out of range 0-59"),
        ("60 * * * *", "cron: field 'minute' value 60 out of range 0-59"),
        ("0 25 * * *", "cron: field 'hour' value 25 out of range 0-23"),
        ("0 0 0 * *", "cron: field 'day-of-month' value 0 out of range 1-31"),
        ("0 0 32 * *", "cron: field 'day-of-month' value 32 out of range 1-31"),
        ("0 0 * 13 *", "cron: field 'month' value 13 out of range 1-12"),
        ("0 0 * * 8", "cron: field 'day-of-week' value 8 out of range 0-7"),
        ("0 0 0 1 1 * 1969", "cron: field 'year' value 1969 out of range 1970-2099"),
        ("0 0 * FOO *", "cron: field 'month' value 'FOO' is not a number or a name JAN-DEC"),
        ("0 0 * * MONDAY", "cron: field 'day-of-week' value 'MONDAY' is not a number or a name SUN-SAT"),
        ("0 0 L * *", "cron: field 'day-of-month' value 'L' is not a number"),
        ("0 ? * * *", "cron: field 'hour' value '?' is not a number"),
        ("1,,2 * * * *", "cron: field 'minute' item '' is not a value or a range"),
        ("-5 * * * *", "cron: field 'minute' item '-5' is not a value or a range"),
        ("5- * * * *", "cron: field 'minute' item '5-' is not a value or a range"),
        ("5-2 * * * *", "cron: field 'minute' range '5-2' runs backwards"),
        ("*/0 * * * *", "cron: field 'minute' step must be at least 1"),
        ("*/x * * * *", "cron: field 'minute' step 'x' is not a number"),
        ("0 0 30 2 *", "never fires: day-of-month 30 does not occur in FEB"),
        ("0 0 31 4,6,9,11 *", "never fires: day-of-month 31 does not occur in APR,JUN,SEP,NOV"),
        ("0 0 0 29 2 ? 2027", "never fires in the years it allows"),
        ("0 0 12 * * ? 2020", "never fires after now (2026-06-01T12:00:00+00:00)"),
        (
            "@fortnightly",
            "unknown macro '@fortnightly' "
            "(known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every)",
        ),
        ("@daily 5", "macro '@daily' takes nothing after it"),
        ("@every", "@every: expected one duration, e.g. '@every 5m'"),
        ("@every 5m 5s", "@every: expected one duration, e.g. '@every 5m'"),
        ("@every 0s", "@every: duration '0s' must be at least 1s"),
        ("@every 0h0m", "@every: duration '0h0m' must be at least 1s"),
        ("@every 9999999999d", "@every: duration '9999999999d' is too long"),
    ],
)
def test_an_unusable_expression_is_rejected_with_its_reason(expression: str, reason: str) -> None:
    assert rejection(expression) == reason


@pytest.mark.parametrize("duration", ["500ms", "-5m", "1.5h", "5", "5w", "30m1h"])
def test_every_accepts_only_whole_units_of_a_second_or_more(duration: str) -> None:
    assert rejection(f"@every {duration}") == (
        f"@every: '{duration}' is not a duration of whole days, hours, minutes and seconds "
        "(d, h, m, s) such as 30s, 5m, 1h30m or 1d"
    )


@pytest.mark.parametrize("name", ["Mars/Base", "", "America", "../etc/passwd", "utc"])
def test_an_unknown_timezone_is_rejected(name: str) -> None:
    assert rejection("@daily", timezone=name) == f"unknown timezone '{name}'"


@pytest.mark.parametrize(
    ("jitter_seconds", "reason"),
    [
        (-1, "jitter must not be negative"),
        (float("nan"), "jitter nan is not a usable number of seconds"),
        (float("inf"), "jitter inf is not a usable number of seconds"),
    ],
)
def test_an_unusable_jitter_is_rejected(jitter_seconds: float, reason: str) -> None:
    assert rejection("@daily", jitter_seconds=jitter_seconds) == reason


@pytest.mark.parametrize(
    ("expression", "start_at", "end_at", "reason"),
    [
        ("@monthly", datetime(2027, 1, 1), None, "start_at must carry a timezone offset"),
        ("@monthly", None, datetime(2027, 1, 1), "end_at must carry a timezone offset"),
        ("@monthly", utc("2027-01-02"), utc("2027-01-01"), "end_at must be later than start_at"),
        ("@monthly", utc("2027-01-01"), utc("2027-01-01"), "end_at must be later than start_at"),
        ("@monthly", utc("2027-06-02"), utc("2027-06-30"), "never fires between start_at and end_at"),
        ("0 0 0 1 1 ? 2027-2099", utc("2099-01-02"), None, "never fires at or after start_at"),
        ("@monthly", None, utc("2026-01-01"), "never fires after now (2026-06-01T12:00:00+00:00)"),
    ],
)
def test_an_unusable_window_is_rejected(
    expression: str, start_at: datetime | None, end_at: datetime | None, reason: str
) -> None:
    assert rejection(expression, start_at=start_at, end_at=end_at) == reason


def test_a_stored_spec_whose_time_has_passed_can_still_be_read() -> None:
    spec = ScheduleSpec("0 0 12 * * ? 2020")

    assert spec.next_after(utc("2020-12-30 13:00")) == utc("2020-12-31 12:00")
    assert spec.next_after(NOW) is None


def test_a_rejection_is_a_value_error_and_a_422_problem() -> None:
    with pytest.raises(InvalidScheduleSpec) as raised:
        ScheduleSpec.parse("0 25 * * *", now=NOW)

    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, Invalid)
    assert (raised.value.status, raised.value.code) == (422, "invalid_schedule_spec")


def test_naive_datetimes_are_refused() -> None:
    spec = ScheduleSpec.parse("@hourly", jitter_seconds=10, now=NOW)
    naive = datetime(2026, 6, 5, 10, 0)

    with pytest.raises(ValueError, match="after must be an aware datetime"):
        spec.next_after(naive)
    with pytest.raises(ValueError, match="until must be an aware datetime"):
        spec.fire_times(NOW, naive, 1)
    with pytest.raises(ValueError, match="nominal must be an aware datetime"):
        spec.jitter_for("s", naive)


def test_jitter_is_the_same_on_every_replica_for_a_schedule_and_slot() -> None:
    nominal = utc("2026-06-05 11:00")
    one_replica = ScheduleSpec.parse("@hourly", jitter_seconds=30, now=NOW)
    another_replica = ScheduleSpec.parse("@hourly", jitter_seconds=30, now=NOW)
    same_instant_in_tokyo = nominal.astimezone(timezone(timedelta(hours=9)))

    delay = one_replica.jitter_for("billing/nightly", nominal)
    assert another_replica.jitter_for("billing/nightly", nominal) == delay
    assert one_replica.jitter_for("billing/nightly", same_instant_in_tokyo) == delay
    assert one_replica.jitter_for("billing/hourly", nominal) != delay
    assert one_replica.jitter_for("billing/nightly", utc("2026-06-05 12:00")) != delay


def test_jitter_stays_below_its_bound_and_spreads_across_it() -> None:
    spec = ScheduleSpec.parse("@hourly", jitter_seconds=30, now=NOW)
    slots = spec.fire_times(NOW, FAR_FUTURE, 500)

    delays = [spec.jitter_for("billing/nightly", slot) for slot in slots]

    assert all(timedelta(0) <= delay < timedelta(seconds=30) for delay in delays)
    assert min(delays) < timedelta(seconds=3) and max(delays) > timedelta(seconds=27)


def test_no_jitter_means_no_delay() -> None:
    spec = ScheduleSpec.parse("@hourly", now=NOW)

    assert spec.jitter_for("billing/nightly", utc("2026-06-05 11:00")) == timedelta(0)
