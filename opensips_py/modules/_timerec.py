"""Time recurrences as OpenSIPS's core time_rec.c reads them (dr_rules.timerec, cfgutils' check_time_rec()).

One recurrence is RFC 5545-like, written as `|`-separated fields:

    [tz|]dtstart|dtend|duration|freq|until|interval|byday|bymonthday|byyearday|byweekno|bymonth

Empty fields are skipped, trailing ones may be left out, the time zone (a name starting with an upper-case
letter, e.g. "Europe/Bucharest", "UTC") is optional. Date-times are "YYYYMMDDTHHMMSS" in that zone (the
system's local time without one); durations "P1W", "P2D", "PT1H30M" or "1H30M"; freq daily/weekly/monthly/
yearly. Recurrences combine into expressions with `&` (and), `/` (or), `!` (not) and parentheses, one operator
kind per level: "A & !B", "(A / B) & C".

The arithmetic follows time_rec.c of OpenSIPS 3.4–3.6 to the letter, its quirks included, so a rule matches
here exactly when it matches there: `interval` is read digit by digit and the digits are summed ("10" is 1),
a plain "MO" under freq=monthly means the first Monday, "2WE" loses its number, bymonthday=N never matches
the last day of an N-day month, and a bad byday list lifts the byday restriction. Time zones are IANA names
(zoneinfo); a name zoneinfo does not know counts as UTC, as glibc treats an unknown TZ.
"""
from __future__ import annotations

import datetime as _dt
import time as _time
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NOVAL = -1  # TR_NOVAL
FREQ_NOFREQ, FREQ_YEARLY, FREQ_MONTHLY, FREQ_WEEKLY, FREQ_DAILY = 0, 1, 2, 3, 4
SEC_DAILY = 86400
SEC_WEEKLY = 7 * SEC_DAILY
SEC_MONTHLY_MAX = 31 * SEC_DAILY
SEC_YEARLY_MAX = 366 * SEC_DAILY
WDAY_SU, WDAY_MO, WDAY_TU, WDAY_WE, WDAY_TH, WDAY_FR, WDAY_SA = range(7)
_WS = " \t\r\n"


class TimeRecError(ValueError):
    """A time recurrence (or expression of them) that does not parse."""


class Tm(NamedTuple):
    """struct tm: full year, month 0-11, day 1-31, wday 0 = Sunday, yday 0-365."""

    year: int
    mon: int
    mday: int
    hour: int
    min: int
    sec: int
    wday: int
    yday: int

    @property
    def seconds(self) -> int:
        return self.hour * 3600 + self.min * 60 + self.sec


_ZERO_TM = Tm(1900, 0, 0, 0, 0, 0, 0, 0)  # a memset() struct tm


# ------------------------------------------------------------------------------------------------ local time

def _zone(tz: str | None):
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return _dt.timezone.utc


def _tm_of(d: _dt.datetime) -> Tm:
    return Tm(d.year, d.month - 1, d.day, d.hour, d.minute, d.second, (d.weekday() + 1) % 7,
              d.timetuple().tm_yday - 1)


def localtime(t: int, tz: str | None) -> Tm:
    """localtime_r() in the recurrence's zone (the system's without one)."""
    zone = _zone(tz)
    if zone is None:
        st = _time.localtime(t)
        return Tm(st.tm_year, st.tm_mon - 1, st.tm_mday, st.tm_hour, st.tm_min, st.tm_sec, (st.tm_wday + 1) % 7,
                  st.tm_yday - 1)
    return _tm_of(_dt.datetime.fromtimestamp(t, zone))


def _naive(year: int, mon: int, mday: int, hour: int = 0, minute: int = 0, sec: int = 0) -> _dt.datetime:
    """The calendar normalisation mktime() does: month 12 is January of the next year, day 0 the last of the
    previous month, and so on."""
    year += mon // 12
    mon %= 12
    return _dt.datetime(year, mon + 1, 1) + _dt.timedelta(days=mday - 1, hours=hour, minutes=minute, seconds=sec)


def mktime(year: int, mon: int, mday: int, hour: int, minute: int, sec: int, tz: str | None) -> tuple[int, Tm]:
    """mktime() with tm_isdst = -1: the UNIX time of a local time, and that time normalised."""
    naive = _naive(year, mon, mday, hour, minute, sec)
    zone = _zone(tz)
    if zone is None:
        t = int(_time.mktime(naive.timetuple()[:8] + (-1,)))
    else:
        t = int(naive.replace(tzinfo=zone).timestamp())
    return t, localtime(t, tz)


def _day_number(year: int, mon: int, mday: int) -> int:
    return _naive(year, mon, mday).toordinal()


# ------------------------------------------------------------------------------------------------ one recurrence

@dataclass
class TimeRec:
    """tmrec_t: one parsed recurrence."""

    tz: str | None = None
    dtstart: int = NOVAL
    ts: Tm = _ZERO_TM
    dtend: int = NOVAL
    duration: int = NOVAL
    until: int = NOVAL
    freq: int = NOVAL
    interval: int = NOVAL
    byday: list[tuple[int, int]] | None = None  # (weekday, occurrence)
    bymday: list[tuple[int, int]] | None = None  # (value, sign)
    byyday: list[tuple[int, int]] | None = None
    bymonth: list[tuple[int, int]] | None = None
    byweekno: list[tuple[int, int]] | None = None
    byxxx: bool = False  # TR_BYXXX: some by* field was given (even a bad one)

    def matches(self, now: int) -> bool:
        """_tmrec_check(): does UNIX time `now` fall in the recurrence?"""
        return _check_tmrec(self, localtime(now, self.tz), now)


def _parse_datetime(text: str, tz: str | None) -> tuple[int, Tm]:
    """ic_parse_datetime(): exactly 15 characters, YYYYMMDDTHHMMSS (digits not checked, as C)."""
    if len(text) != 15:
        raise TimeRecError(f"bad date-time {text!r}")
    d = [ord(c) - 48 for c in text]
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    if year < 1970:
        raise TimeRecError(f"invalid year in Date-Time: {text!r}")
    mon = d[4] * 10 + d[5] - 1
    mday = d[6] * 10 + d[7]
    if mon == -1 or mday == 0:
        raise TimeRecError(f"month or month day cannot be zero in Date-Time: {text!r}")
    try:
        return mktime(year, mon, mday, d[9] * 10 + d[10], d[11] * 10 + d[12], d[13] * 10 + d[14], tz)
    except (ValueError, OverflowError) as exc:
        raise TimeRecError(f"bad date-time {text!r}: {exc}") from None


def _parse_duration(text: str) -> int:
    """ic_parse_duration(): P…W…D[T…H…M…S] or …H…M…S; a bad character gives 0, as C."""
    if len(text) < 2:
        raise TimeRecError(f"bad duration {text!r}")
    date_part = text[0] in "Pp"
    total = value = 0
    for c in text[1:] if date_part else text:
        if c.isdigit():
            value = value * 10 + int(c)
            continue
        unit = c.upper()
        if unit in "WD":
            if not date_part:
                return 0
            total += value * (7 * SEC_DAILY if unit == "W" else SEC_DAILY)
        elif unit in "HMS":
            if date_part:
                return 0
            total += value * {"H": 3600, "M": 60, "S": 1}[unit]
        elif unit == "T":
            if not date_part:
                return 0
            date_part = False
            continue
        else:
            return 0
        value = 0
    return total


def _parse_freq(text: str) -> int:
    return {"daily": FREQ_DAILY, "weekly": FREQ_WEEKLY, "monthly": FREQ_MONTHLY,
            "yearly": FREQ_YEARLY}.get(text.lower(), FREQ_NOFREQ) if len(text) >= 5 else FREQ_NOFREQ


def _strz2int(text: str) -> int:
    """time_rec.c strz2int(): sums the leading digits (its `_v += digit` never multiplies by ten)."""
    total = 0
    for c in text:
        if not "0" <= c <= "9":
            break
        total += ord(c) - 48
    return total


_DAY_NAMES = {"SA": WDAY_SA, "SU": WDAY_SU, "MO": WDAY_MO, "TH": WDAY_TH, "TU": WDAY_TU, "WE": WDAY_WE,
              "FR": WDAY_FR}


def _parse_byday(text: str) -> list[tuple[int, int]] | None:
    """ic_parse_byday(): "MO,-1FR,2TU" -> [(weekday, occurrence)]; occurrence 0-based when positive."""
    entries = [[0, 0] for _ in range(text.count(",") + 1)]
    nr, sign, value, i = 0, 1, 0, 0
    while i < len(text) and nr < len(entries):
        c = text[i]
        if c.isdigit():
            value = value * 10 + int(c)
        elif c in "sSmMtTwWfF":
            name = text[i:i + 2].upper()
            i += 1
            if name not in _DAY_NAMES:
                return None
            entries[nr][0] = _DAY_NAMES[name]
            if name == "WE":  # C resets the number before using it for WE
                sign, value = 1, 0
            req = sign * value
            entries[nr][1] = req - 1 if req > 0 else req
            sign, value = 1, 0
        elif c == "-":
            sign = -1
        elif c == ",":
            nr += 1
        elif c not in "+ \t":
            return None
        i += 1
    return [(a, b) for a, b in entries]


def _parse_byxxx(text: str) -> list[tuple[int, int]] | None:
    """ic_parse_byxxx(): "1,-1,15" -> [(value, sign)]."""
    entries: list[tuple[int, int]] = []
    sign, value = 1, 0
    for c in text:
        if c.isdigit():
            value = value * 10 + int(c)
        elif c == "-":
            sign = -1
        elif c == ",":
            entries.append((value, sign))
            sign, value = 1, 0
        elif c not in "+ \t":
            return None
    entries.append((value, sign))
    return entries


def _min_interval(tr: TimeRec) -> int:
    if tr.freq == FREQ_DAILY or tr.byday is not None or tr.bymday is not None or tr.byyday is not None:
        return FREQ_DAILY
    if tr.freq == FREQ_WEEKLY or tr.byweekno is not None:
        return FREQ_WEEKLY
    if tr.freq == FREQ_MONTHLY or tr.bymonth is not None:
        return FREQ_MONTHLY
    if tr.freq == FREQ_YEARLY:
        return FREQ_YEARLY
    return FREQ_NOFREQ


def parse_timerec(text: str) -> TimeRec:
    """_tmrec_parse(): one recurrence. Raises TimeRecError."""
    tr = TimeRec()
    if not text:
        return tr

    def tz_field(value: str) -> int:
        if not "A" <= value[0] <= "Z":
            return 1  # not a zone: the same text goes to dtstart
        tr.tz = value
        return 0

    def dtstart(value: str) -> int:
        tr.dtstart, tr.ts = _parse_datetime(value, tr.tz)
        return 0

    def dtend(value: str) -> int:
        tr.dtend = _parse_datetime(value, tr.tz)[0]
        return 0

    def duration(value: str) -> int:
        tr.duration = _parse_duration(value)
        return 0

    def freq(value: str) -> int:
        tr.freq = _parse_freq(value)
        return 0

    def until(value: str) -> int:
        tr.until = _parse_datetime(value, tr.tz)[0]
        return 0

    def interval(value: str) -> int:
        tr.interval = _strz2int(value)
        return 0

    def by(name: str, parser):
        def setter(value: str) -> int:
            setattr(tr, name, parser(value))
            tr.byxxx = True
            return 0
        return setter

    fields = (tz_field, dtstart, dtend, duration, freq, until, interval, by("byday", _parse_byday),
              by("bymday", _parse_byxxx), by("byyday", _parse_byxxx), by("byweekno", _parse_byxxx),
              by("bymonth", _parse_byxxx))
    pos = 0
    for parse in fields:  # load_TR_value()
        sep = text.find("|", pos)
        value = text[pos:] if sep < 0 else text[pos:sep]
        rc = parse(value) if sep != pos else 0
        if sep >= 0:
            if rc == 0:
                pos = sep + 1
            if pos >= len(text):
                break
        elif rc == 0:
            break

    if tr.dtstart == NOVAL:
        tr.dtstart = 0  # auto-fixed to 19700101T000000
    if tr.duration == NOVAL:
        if tr.dtend == NOVAL:
            unit = _min_interval(tr)
            ts = tr.ts
            if unit == FREQ_DAILY:
                tr.dtend = tr.dtstart + SEC_DAILY - ts.seconds
            elif unit == FREQ_WEEKLY:
                tr.dtend = tr.dtstart + SEC_WEEKLY - (ts.wday * SEC_DAILY + ts.seconds)
            elif unit == FREQ_MONTHLY:
                tr.dtend = tr.dtstart + SEC_MONTHLY_MAX - (ts.mday * SEC_DAILY + ts.seconds)
            elif unit == FREQ_YEARLY:
                tr.dtend = tr.dtstart + SEC_YEARLY_MAX - (ts.yday * SEC_DAILY + ts.seconds)
            else:
                tr.dtend = 4294967295
        tr.duration = tr.dtend - tr.dtstart
    else:
        tr.dtend = tr.dtstart + tr.duration
    if tr.freq == NOVAL and (tr.until != NOVAL or tr.interval != NOVAL or tr.byxxx):
        raise TimeRecError(f"missing FREQ component in time rec: {text!r}")
    return tr


# ------------------------------------------------------------------------------------------------ matching

def _cmod(a: int, b: int) -> int:
    """C's % (the sign follows the dividend)."""
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _check_tmrec(tr: TimeRec, now_tm: Tm, now: int) -> bool:
    if now < tr.dtstart or (tr.freq == NOVAL and now >= tr.dtend):
        return False
    if tr.freq == NOVAL:
        return True
    if not _check_freq_interval(tr, now_tm):
        return False
    if not _check_min_unit(tr, now_tm):
        return False
    if not _check_byxxx(tr, now_tm):
        return False
    return tr.until == NOVAL or now <= tr.until


def _check_freq_interval(tr: TimeRec, now: Tm) -> bool:
    if tr.interval == NOVAL or tr.interval == 1:
        return True
    if tr.interval == 0:
        return False  # C divides by zero here
    ts = tr.ts
    if tr.freq in (FREQ_DAILY, FREQ_WEEKLY):
        d0 = _day_number(ts.year, ts.mon, ts.mday)
        d1 = _day_number(now.year, now.mon, now.mday)
        if tr.freq == FREQ_DAILY:
            return (d1 - d0) % tr.interval == 0
        d0 -= (ts.wday + 6) % 7
        d1 -= (now.wday + 6) % 7
        return _cmod(int((d1 - d0) / 7), tr.interval) == 0
    if tr.freq == FREQ_MONTHLY:
        return _cmod((now.year - ts.year) * 12 + now.mon - ts.mon, tr.interval) == 0
    if tr.freq == FREQ_YEARLY:
        return _cmod(now.year - ts.year, tr.interval) == 0
    return False


def _check_recur_itv(x: Tm, bgn: Tm, end: Tm, dur: int, freq: int) -> bool:
    if freq == FREQ_YEARLY:
        d1, d2, dx = bgn.yday, end.yday, x.yday
    elif freq == FREQ_MONTHLY:
        d1, d2, dx = bgn.mday, end.mday, x.mday
    elif freq == FREQ_WEEKLY:
        d1, d2, dx = bgn.wday, end.wday, x.wday
    else:
        if bgn.mday == end.mday:
            return x.seconds - bgn.seconds >= 0 and end.seconds - x.seconds > 0
        return bgn.seconds - x.seconds <= 0 or x.seconds - end.seconds < 0
    if d1 < d2:
        if dx < d1 or dx > d2:
            return False
        if d1 < dx < d2:
            return True
    elif d2 < d1:
        if d2 < dx < d1:
            return False
        if dx < d2 or dx > d1:
            return True
    elif dx != d1:
        return dur > SEC_DAILY
    else:
        return x.seconds - bgn.seconds >= 0 and end.seconds - x.seconds > 0
    diff = x.seconds - bgn.seconds if dx == d1 else end.seconds - x.seconds
    return diff > 0


def _check_min_unit(tr: TimeRec, now: Tm) -> bool:
    unit = _min_interval(tr)
    limits = {FREQ_DAILY: SEC_DAILY, FREQ_WEEKLY: SEC_WEEKLY, FREQ_MONTHLY: SEC_MONTHLY_MAX,
              FREQ_YEARLY: SEC_YEARLY_MAX}
    if unit not in limits:
        return False
    if tr.duration >= limits[unit]:
        return True
    return _check_recur_itv(now, tr.ts, localtime(tr.dtend, tr.tz), tr.duration, unit)


def _mon_week(t: Tm) -> int:
    return (t.yday + 7 - (t.wday - 1 if t.wday else 6)) // 7


def _check_byxxx(tr: TimeRec, now: Tm) -> bool:
    if not tr.byxxx:
        return True
    # ac_get_maxval()
    leap = now.year % 400 == 0 or (now.year % 100 != 0 and now.year % 4 == 0)
    yday_max = 366 if leap else 365
    mday_max = 29 if now.mon == 1 and leap else 28 if now.mon == 1 else 30 if now.mon in (3, 5, 8, 10) else 31
    dec31 = _dt.date(now.year, 12, 31)
    dec31_tm = Tm(now.year, 11, 31, 0, 0, 0, (dec31.weekday() + 1) % 7, dec31.timetuple().tm_yday - 1)
    v = now.wday - dec31_tm.wday + 1 if now.wday > dec31_tm.wday else dec31_tm.wday - now.wday
    ywday_max = (dec31_tm.yday - v) // 7 + 1
    yweek_max = _mon_week(dec31_tm) + 1
    mwday_max = (mday_max - 1 - (mday_max - now.mday) % 7) // 7 + 1
    # ac_tm_fill()
    yweek, ywday, wom = _mon_week(now), now.yday // 7, (now.mday - 1) // 7

    if tr.bymonth is not None and not any(now.mon == _cmod((x - 1) * r + 12, 12) for x, r in tr.bymonth):
        return False
    if tr.freq == FREQ_YEARLY and tr.byweekno is not None and \
            not any(yweek == _cmod((x - 1) * r + yweek_max, yweek_max) for x, r in tr.byweekno):
        return False
    if tr.byyday is not None and \
            not any(now.yday == _cmod((x - 1) * r + yday_max, yday_max) for x, r in tr.byyday):
        return False
    if tr.bymday is not None and \
            not any(now.mday == _cmod(x * r + mday_max, mday_max) + (1 if r < 0 else 0) for x, r in tr.bymday):
        return False
    if tr.byday is not None:
        for day, req in tr.byday:
            if tr.freq == FREQ_YEARLY:
                if now.wday == day and ywday == _cmod(req + ywday_max, ywday_max):
                    break
            elif tr.freq == FREQ_MONTHLY:
                if now.wday == day and wom == _cmod(req + mwday_max, mwday_max):
                    break
            elif now.wday == day:
                break
        else:
            return False
    return True


# ------------------------------------------------------------------------------------------------ expressions

@dataclass
class TimeRecExpr:
    """tmrec_expr_t: a leaf recurrence, or operands joined by one operator ('&' or '/'), maybe inverted."""

    rec: TimeRec | None = None  # a leaf
    op: str = ""  # "", "&", "/"
    operands: list["TimeRecExpr"] = field(default_factory=list)
    inverted: bool = False

    def matches(self, now: int) -> bool:
        """_tmrec_expr_check() > 0."""
        return self._rc(now) > 0

    def _rc(self, now: int) -> int:
        if self.rec is not None:
            rc = 2 if self.rec.matches(now) else 0
        elif not self.operands:
            rc = 0
        else:
            rc = 2 if self.op == "&" else 0
            for operand in self.operands:
                if self.op == "&":
                    rc &= operand._rc(now) + 1
                else:
                    rc |= operand._rc(now) + 1
        return (rc + 2) % 4 - 1 if self.inverted else rc - 1


def parse_timerec_expr(text: str) -> TimeRecExpr:
    """tmrec_expr_parse(): recurrences joined by & / ! and parentheses. Raises TimeRecError."""
    exp = TimeRecExpr()
    need_operand = True
    invert_next = False

    def set_op(op: str) -> None:
        if exp.op and exp.op != op:
            raise TimeRecError(f"failed to parse rec at {op!r} (only 1 operator type is allowed within an "
                               f"expression): {text!r}")
        exp.op = op

    p = 0
    while p < len(text):
        c = text[p]
        if c in _WS:
            p += 1
            continue
        if need_operand:
            if c in ")&/":
                raise TimeRecError(f"failed to parse time rec (unexpected {c!r}): {text!r}")
            if c == "!":
                invert_next = not invert_next
                p += 1
                continue
            if c == "(":
                depth, q = 1, p + 1
                while q < len(text):
                    if text[q] == "(":
                        depth += 1
                    elif text[q] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    q += 1
                if depth:
                    raise TimeRecError(f"failed to parse time rec (bad parentheses): {text!r}")
                sub = parse_timerec_expr(text[p + 1:q].strip(_WS))
                if invert_next:
                    invert_next, sub.inverted = False, True
                exp.operands.append(sub)
                p = q + 1
                need_operand = False
                continue
            is_valid, q = False, p + 1
            while q < len(text):
                ch = text[q]
                if ch in "!()":
                    raise TimeRecError(f"failed to parse multi time rec at {ch!r} (unexpected character): "
                                       f"{text!r}")
                if ch == "|":
                    is_valid = True
                if ch in _WS:
                    need_operand = False
                    break
                if ch == "&" or (ch == "/" and is_valid):
                    break
                q += 1
            leaf = TimeRecExpr(rec=parse_timerec(text[p:q].strip(_WS)))
            if invert_next:
                invert_next, leaf.inverted = False, True
            exp.operands.append(leaf)
            if q >= len(text):
                return exp
            if text[q] == "&":
                set_op("&")
            elif text[q] == "/":
                set_op("/")
            p = q + 1
            continue
        if c not in "&/":
            raise TimeRecError(f"failed to parse the rec string (bad char: {c!r}, expected operator): {text!r}")
        set_op(c)
        need_operand = True
        p += 1
    if need_operand and exp.op:
        raise TimeRecError(f"failed to parse the rec string (missing operand): {text!r}")
    if invert_next:
        exp.inverted = True
    return exp
