#!/usr/bin/env python3
"""What a user would write instead of `gatekeeper report` (issue 12's
comparison): each person's meeting load in one ISO week, from local calendar
folders (one .ics file per event), with `icalendar` and
`recurring_ical_events`. Dependencies pinned in report_python.txt:

    pip install -r benches/report_python.txt
    python3 benches/report_python.py target/tmp/org-1000-6 2026-11-30

It reads every file of every member (as such a script does), expands each
event into the week [monday, monday + 7 days) in UTC, and sums the minutes
per person of events with at least one other attendee. It prints the team's
total and the busiest person, and the time it took.
"""

import datetime as dt
import os
import sys
import time

import icalendar
import recurring_ical_events


def load(root, monday):
    start = dt.datetime.combine(monday, dt.time(), tzinfo=dt.timezone.utc)
    end = start + dt.timedelta(days=7)
    minutes = {}
    calendars = os.path.join(root, "calendars")
    for person in sorted(os.listdir(calendars)):
        total = 0
        for folder, _dirs, files in os.walk(os.path.join(calendars, person)):
            for name in files:
                if not name.endswith(".ics"):
                    continue
                with open(os.path.join(folder, name), "rb") as f:
                    cal = icalendar.Calendar.from_ical(f.read())
                for ev in recurring_ical_events.of(cal).between(start, end):
                    attendees = ev.get("ATTENDEE")
                    if not attendees or not isinstance(attendees, list) or len(attendees) < 2:
                        continue
                    s = ev.decoded("DTSTART")
                    e = ev.decoded("DTEND") if "DTEND" in ev else s
                    if isinstance(s, dt.datetime):
                        total += int((e - s).total_seconds() // 60)
        minutes[person] = total
    return minutes


def main():
    root = sys.argv[1]
    monday = dt.date.fromisoformat(sys.argv[2] if len(sys.argv) > 2 else "2026-11-30")
    t = time.perf_counter()
    minutes = load(root, monday)
    took = time.perf_counter() - t
    busiest = max(minutes, key=minutes.get)
    print(f"{len(minutes)} people, {sum(minutes.values())} meeting minutes in the week; "
          f"busiest {busiest} with {minutes[busiest]}; {took:.1f} s")


if __name__ == "__main__":
    main()
