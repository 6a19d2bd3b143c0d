#!/usr/bin/env python3
"""An independent reading of "inside working hours", for issue 9.

Generates meetings around every UTC-offset change of 2026 (and around
week and day boundaries in zones without one) in odd zones, and counts,
with Python's own `zoneinfo` and nothing from gatekeeper, how many whole
minutes of each meeting fall outside the member's working hours on their
wall clock. The table is committed as
tests/fixtures/zoneinfo-working-hours.tsv and `tests/fairness.rs` checks
gatekeeper's curve, the `working_hours` rule and the slot search against
it. Not run in CI (it needs Python and the system's tz database):

    python3 scripts/zoneinfo-working-hours.py > tests/fixtures/zoneinfo-working-hours.tsv
    python3 scripts/zoneinfo-working-hours.py --check tests/fixtures/zoneinfo-working-hours.tsv

A difference between the system tz database and chrono-tz's shows up as a
changed row: regenerate with both at the same tzdata release.
"""
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

ZONES = [
    "Asia/Kathmandu",       # +05:45
    "Australia/Lord_Howe",  # +10:30 / +11:00, a 30-minute DST change
    "Pacific/Chatham",      # +12:45 / +13:45
    "Pacific/Kiritimati",   # +14:00
    "Pacific/Apia",         # +13:00, no DST since 2021
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",     # -03:30 / -02:30
]
# (working hours, working days: bit 0 = Monday)
HOURS = [
    ("09:00-17:00", 0b0011111),
    ("22:00-06:00", 0b1111111),
    ("00:00-24:00", 0b0011111),
    ("22:00-02:30", 0b1111111),
    ("01:30-03:00", 0b1111111),
]
DURATIONS = [15, 90, 480]
WEEK = 7 * 1440


def minute(hhmm):
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def windows(spec, days):
    """Working windows as [start, end) minutes of the week, Monday 00:00 = 0.
    A window belongs to the day it starts on; end <= start crosses midnight
    ("24:00" is the end of the day)."""
    a, b = spec.split("-")
    start, end = minute(a), (1440 if b == "24:00" else minute(b))
    if end == 1440:
        end = 0
    out = []
    for d in range(7):
        if days & (1 << d):
            s = d * 1440 + start
            e = d * 1440 + end + (1440 if end <= start else 0)
            out.append((s, e))
    return out


def is_working(mow, wins):
    return any(s <= m < e for s, e in wins for m in (mow, mow + WEEK))


def outside_minutes(zone, spec, days, start_utc, minutes):
    tz = ZoneInfo(zone)
    wins = windows(spec, days)
    n = 0
    for k in range(minutes):
        local = (start_utc + timedelta(minutes=k)).astimezone(tz)
        mow = local.weekday() * 1440 + local.hour * 60 + local.minute
        if not is_working(mow, wins):
            n += 1
    return n


def anchors(zone):
    """Every offset change in 2026, else Monday 00:00 UTC of two weeks."""
    tz = ZoneInfo(zone)
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    end = datetime(2027, 1, 1, tzinfo=timezone.utc)
    out = []
    prev = t.astimezone(tz).utcoffset()
    while t < end:
        nxt = t + timedelta(minutes=15)
        off = nxt.astimezone(tz).utcoffset()
        if off != prev:
            out.append(nxt)
            prev = off
        t = nxt
    if not out:
        out = [datetime(2026, 2, 2, tzinfo=timezone.utc), datetime(2026, 7, 3, 12, tzinfo=timezone.utc)]
    return out


def rows():
    for zone in ZONES:
        for anchor in anchors(zone):
            for spec, days in HOURS:
                for k in range(-12, 13):
                    start = anchor + timedelta(minutes=45 * k)
                    for dur in DURATIONS:
                        n = outside_minutes(zone, spec, days, start, dur)
                        yield f"{zone}\t{spec}\t{days:07b}\t{start.strftime('%Y-%m-%dT%H:%M:%SZ')}\t{dur}\t{n}"


def main():
    header = "# zone\tworking_hours\tdays (Sun..Mon bits)\tstart_utc\tminutes\toutside_minutes"
    lines = [header] + list(rows())
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            have = f.read().splitlines()
        diff = [(a, b) for a, b in zip(have, lines) if a != b]
        if diff or len(have) != len(lines):
            for a, b in diff[:20]:
                print(f"table: {a}\nzoneinfo: {b}")
            print(f"{len(diff)} rows differ ({len(have)} in the table, {len(lines)} generated)")
            sys.exit(1)
        print(f"all {len(lines) - 1} rows agree with zoneinfo")
        return
    print("\n".join(lines))


if __name__ == "__main__":
    main()
