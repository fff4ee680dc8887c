"""dr_rules.timerec: one recurrence and expressions of them, matched at chosen UTC instants, with time_rec.c's
arithmetic (quirks included)."""
from __future__ import annotations

import datetime as dt

import pytest

from opensips_py.modules._timerec import (
    FREQ_WEEKLY, TimeRecError, parse_timerec, parse_timerec_expr,
)


def at(text: str) -> int:
    """'2026-01-05 10:00' (UTC) as a UNIX time."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp())


def matches(rec: str, when: str) -> bool:
    return parse_timerec_expr(rec).matches(at(when))


def test_a_plain_interval_matches_between_start_and_end_only():
    rec = "UTC|20260101T090000|20260101T170000"
    assert matches(rec, "2026-01-01 09:00")
    assert matches(rec, "2026-01-01 16:59:59")
    assert not matches(rec, "2026-01-01 17:00")
    assert not matches(rec, "2026-01-01 08:59")
    assert not matches(rec, "2026-01-02 10:00")


def test_a_daily_recurrence_with_a_duration_repeats_every_day():
    rec = "UTC|20260101T090000||PT8H|daily"
    assert matches(rec, "2026-03-17 09:30")
    assert matches(rec, "2026-03-17 16:59")
    assert not matches(rec, "2026-03-17 17:00")
    assert not matches(rec, "2026-03-17 08:00")
    assert not matches(rec, "2025-12-31 10:00")  # before dtstart


def test_weekdays_only_with_byday():
    rec = "UTC|20260105T080000||PT10H|weekly|||MO,TU,WE,TH,FR"
    assert matches(rec, "2026-01-07 10:00")  # Wednesday
    assert matches(rec, "2026-02-13 17:59")  # Friday
    assert not matches(rec, "2026-01-10 10:00")  # Saturday
    assert not matches(rec, "2026-01-07 18:00")


def test_until_ends_the_recurrence():
    rec = "UTC|20260101T000000||P1D|daily|20260110T000000"
    assert matches(rec, "2026-01-09 12:00")
    assert not matches(rec, "2026-01-10 12:00")


def test_interval_every_other_day_and_the_digit_sum_quirk():
    every_other = "UTC|20260101T000000||PT2H|daily||2"
    assert matches(every_other, "2026-01-03 01:00")
    assert not matches(every_other, "2026-01-04 01:00")
    # strz2int() sums the digits: "11" is 2, so it behaves as "every other day"
    assert parse_timerec("UTC|20260101T000000||PT2H|daily||11").interval == 2
    assert not matches("UTC|20260101T000000||PT2H|daily||11", "2026-01-02 01:00")


def test_monthly_byday_counts_occurrences_within_the_month():
    first_monday = "UTC|20260101T000000||P1D|monthly|||MO"
    assert matches(first_monday, "2026-02-02 12:00")  # first Monday of February
    assert not matches(first_monday, "2026-02-09 12:00")
    last_friday = "UTC|20260101T000000||P1D|monthly|||-1FR"
    assert matches(last_friday, "2026-01-30 12:00")
    assert not matches(last_friday, "2026-01-23 12:00")


def test_bymonthday_and_bymonth():
    fifteenth = "UTC|20260101T000000||P1D|monthly||||15"
    assert matches(fifteenth, "2026-04-15 03:00") and not matches(fifteenth, "2026-04-16 03:00")
    # time_rec.c's modulo makes a day equal to the month length unreachable
    assert not matches("UTC|20260101T000000||P1D|monthly||||31", "2026-01-31 03:00")
    assert matches("UTC|20260101T000000||P1D|monthly||||-1", "2026-01-31 03:00")
    summer = "UTC|20260101T000000||P31D|yearly|||||||6,7,8"  # the whole month: duration >= 31 days
    assert matches(summer, "2026-07-04 12:00") and not matches(summer, "2026-09-04 12:00")


def test_the_zone_is_optional_and_applies_to_dates():
    bucharest = "Europe/Bucharest|20260101T090000|20260101T100000"  # UTC+2 in winter
    assert matches(bucharest, "2026-01-01 07:30")
    assert not matches(bucharest, "2026-01-01 09:30")
    rec = parse_timerec("20260101T090000|20260101T100000")
    assert rec.tz is None and rec.duration == 3600


def test_durations_and_week_default_end():
    assert parse_timerec("UTC|20260101T000000||P1W2DT3H4M5S").duration == 9 * 86400 + 3 * 3600 + 4 * 60 + 5
    assert parse_timerec("UTC|20260101T000000||1H30M").duration == 5400
    weekly = parse_timerec("UTC|20260105T000000|||weekly")  # no end: until the end of the week
    assert weekly.freq == FREQ_WEEKLY and weekly.duration == 7 * 86400 - 86400  # Monday: wday 1


def test_expressions_and_or_not_and_parentheses():
    work = "UTC|20260101T090000||PT8H|daily"
    lunch = "UTC|20260101T120000||PT1H|daily"
    assert matches(f"{work} & !{lunch}", "2026-05-05 10:00")
    assert not matches(f"{work} & !{lunch}", "2026-05-05 12:30")
    night = "UTC|20260101T220000||PT2H|daily"
    assert matches(f"({lunch} / {night}) & {work}", "2026-05-05 12:10")
    assert not matches(f"({lunch} / {night}) & {work}", "2026-05-05 22:30")
    assert matches(f"!({lunch})", "2026-05-05 08:00")


@pytest.mark.parametrize("bad", [
    "UTC|2026010T090000",                       # a date of the wrong length
    "UTC|19690101T000000",                      # before 1970
    "UTC|20260101T000000||||||MO",              # byday without freq
    "A|20260101T000000 & B|20260101T000000 / C|20260101T000000",  # two operator kinds
    "(UTC|20260101T000000",                     # unbalanced
    "UTC|20260101T000000 &",                    # missing operand
])
def test_bad_recurrences_are_refused(bad):
    with pytest.raises(TimeRecError):
        parse_timerec_expr(bad)
