#!/usr/bin/env python3
"""Compare `gatekeeper events` with a mature peer library (issue 9).

The peer is `recurring_ical_events` on top of `icalendar` (PyPI):

    pip install icalendar recurring_ical_events
    cargo build && python3 scripts/peer_check.py [--gatekeeper target/debug/gatekeeper] [--generated 40] [--verbose]

Inputs: the issue's cases (tests/fixtures/ical-cases), the client fixtures
(tests/fixtures/ics) and `--generated` calendars made here from a fixed
seed (series in UTC, zoned, floating and all-day form; COUNT/UNTIL/BYDAY/
INTERVAL; EXDATEs, zoned ones on all-day series; moved, cancelled and
THISANDFUTURE overrides; RDATEs; X-WR-TIMEZONE). Each
calendar is expanded over one window by both, read in UTC, and compared as
sets of (uid, start, end) of the occurrences that are not cancelled. A
calendar agrees when the sets are equal. Not run by CI: it needs Python
packages the project does not depend on.
"""

import argparse
import datetime as dt
import glob
import json
import os
import random
import subprocess
import sys
import tempfile

import icalendar
import recurring_ical_events

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FROM = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
TO = dt.datetime(2028, 1, 1, tzinfo=dt.timezone.utc)


def norm(value):
    """A start or end as gatekeeper prints it in UTC."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.strftime("%Y-%m-%d")


def norm_gatekeeper(text):
    if len(text) == 10:
        return text
    if text.endswith("Z"):
        return text
    if len(text) == 19:  # floating, read in UTC
        return text + "Z"
    return (
        dt.datetime.fromisoformat(text)
        .astimezone(dt.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def peer(path):
    with open(path, "rb") as f:
        cal = icalendar.Calendar.from_ical(f.read())
    out = set()
    for ev in recurring_ical_events.of(cal).between(FROM, TO):
        if str(ev.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start = ev["DTSTART"].dt
        end = ev["DTEND"].dt if "DTEND" in ev else None
        if end is None:
            end = start + (ev["DURATION"].dt if "DURATION" in ev else (dt.timedelta(days=1) if not isinstance(start, dt.datetime) else dt.timedelta()))
        out.add((str(ev.get("UID", "")), norm(start), norm(end)))
    return out


def ours(binary, path):
    run = subprocess.run(
        [binary, "events", "--ics", path, "--from", "2024-01-01", "--to", "2027-12-31",
         "--format", "json", "--tz", "UTC", "--limit", "100000"],
        capture_output=True, text=True,
    )
    rows = json.loads(run.stdout or "[]")
    return {
        (r["uid"], norm_gatekeeper(r["start"]), norm_gatekeeper(r["end"]))
        for r in rows
        if r.get("status") != "cancelled"
    }


def generated(n, folder):
    """Calendars of varied shape, from a fixed seed."""
    rnd = random.Random(9)
    paths = []
    zones = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]
    for i in range(n):
        kind = rnd.choice(["utc", "zoned", "floating", "date"])
        zone = rnd.choice(zones)
        day = dt.date(2026, rnd.randint(1, 12), rnd.randint(1, 28))
        hour = rnd.randint(0, 23)
        start_dt = dt.datetime.combine(day, dt.time(hour, rnd.choice([0, 30])))

        def fmt(t, k=kind):
            if k == "date":
                return ";VALUE=DATE:" + t.strftime("%Y%m%d")
            if k == "utc":
                return ":" + t.strftime("%Y%m%dT%H%M%SZ")
            if k == "zoned":
                return ";TZID=" + zone + ":" + t.strftime("%Y%m%dT%H%M%S")
            return ":" + t.strftime("%Y%m%dT%H%M%S")

        step = {"DAILY": dt.timedelta(days=1), "WEEKLY": dt.timedelta(weeks=1)}
        freq = rnd.choice(["DAILY", "WEEKLY", "MONTHLY"])
        rule = "FREQ=" + freq
        count = rnd.randint(2, 30)
        if rnd.random() < 0.6:
            rule += ";COUNT=%d" % count
        else:
            until = start_dt + dt.timedelta(days=rnd.randint(5, 200))
            rule += ";UNTIL=" + until.strftime("%Y%m%d" if kind == "date" else "%Y%m%dT%H%M%SZ")
        if freq == "WEEKLY" and rnd.random() < 0.4:
            rule += ";BYDAY=MO,WE,FR"
        if rnd.random() < 0.3:
            rule += ";INTERVAL=%d" % rnd.randint(2, 3)
        length = dt.timedelta(days=rnd.randint(1, 3)) if kind == "date" else dt.timedelta(minutes=rnd.choice([15, 30, 60, 90]))
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//peer check//EN"]
        if kind == "floating" and rnd.random() < 0.4:
            lines.append("X-WR-TIMEZONE:" + zone)
        lines += ["BEGIN:VEVENT", "UID:gen-%d" % i, "DTSTAMP:20260101T000000Z",
                 "DTSTART" + fmt(start_dt), "DTEND" + fmt(start_dt + length), "RRULE:" + rule]
        simple = freq in step and "BYDAY" not in rule and "INTERVAL" not in rule
        instances = [start_dt + step[freq] * k for k in range(1, min(count, 10))] if simple else []
        rnd.shuffle(instances)
        if instances and rnd.random() < 0.5:
            lines.append("EXDATE" + fmt(instances.pop()))
        if instances and kind == "date" and rnd.random() < 0.4:
            # A zoned EXDATE on an all-day series (case 07 of the issue).
            lines.append("EXDATE;TZID=" + zone + ":" + instances.pop().strftime("%Y%m%dT000000"))
        if rnd.random() < 0.3:
            lines.append("RDATE" + fmt(start_dt + dt.timedelta(days=rnd.randint(1, 40), hours=0)))
        lines.append("END:VEVENT")
        for _ in range(rnd.randint(0, 2)):
            if not instances:
                break
            rid = instances.pop()
            moved = rid + dt.timedelta(hours=rnd.randint(1, 5)) if kind != "date" else rid + dt.timedelta(days=1)
            lines += ["BEGIN:VEVENT", "UID:gen-%d" % i, "DTSTAMP:20260101T000000Z",
                      "RECURRENCE-ID" + fmt(rid), "DTSTART" + fmt(moved), "DTEND" + fmt(moved + length)]
            if rnd.random() < 0.3:
                lines.append("STATUS:CANCELLED")
            lines.append("END:VEVENT")
        if instances and kind in ("utc", "zoned") and rnd.random() < 0.25:
            rid = min(instances)
            moved = rid + dt.timedelta(hours=rnd.randint(1, 3))
            lines += ["BEGIN:VEVENT", "UID:gen-%d" % i, "DTSTAMP:20260101T000000Z",
                      "RECURRENCE-ID;RANGE=THISANDFUTURE" + fmt(rid), "DTSTART" + fmt(moved),
                      "DTEND" + fmt(moved + dt.timedelta(minutes=45)), "END:VEVENT"]
        lines.append("END:VCALENDAR")
        path = os.path.join(folder, "gen-%02d.ics" % i)
        with open(path, "w") as f:
            f.write("\r\n".join(lines) + "\r\n")
        paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gatekeeper", default=os.path.join(ROOT, "target", "debug", "gatekeeper"))
    ap.add_argument("--generated", type=int, default=40)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/ical-cases/*.ics")))
        files += sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/ics/*.ics")))
        files += generated(args.generated, tmp)
        agree = 0
        for path in files:
            try:
                theirs = peer(path)
            except Exception as e:  # the peer rejects the file
                print("%-45s peer failed: %s" % (os.path.basename(path), e))
                continue
            mine = ours(args.gatekeeper, path)
            if mine == theirs:
                agree += 1
                continue
            print("%-45s DIFFERS" % os.path.basename(path))
            for row in sorted(mine - theirs):
                print("    only gatekeeper:", row)
            for row in sorted(theirs - mine):
                print("    only peer:      ", row)
            if args.verbose:
                print(open(path).read())
        print("agree on %d of %d calendars (%.1f%%)" % (agree, len(files), 100.0 * agree / max(1, len(files))))
        return 0 if agree == len(files) else 1


if __name__ == "__main__":
    sys.exit(main())
