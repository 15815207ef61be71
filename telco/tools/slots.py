"""Technician visit slots: working days inside the policy's booking window, two windows a day."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Iterable, Literal

from telco.models import Appointment
from telco.policy import Policy, technician_window

Window = Literal["morning", "afternoon"]

# One technician team per area covers these windows on working days (Mon-Fri).
WINDOWS: dict[str, tuple[time, time]] = {"morning": (time(8), time(12)), "afternoon": (time(13), time(17))}


def slot_bounds(day: date, window: str, tz) -> tuple[datetime, datetime]:
    start, end = WINDOWS[window]
    return datetime.combine(day, start, tzinfo=tz), datetime.combine(day, end, tzinfo=tz)


def free_slots(
    appointments: Iterable[Appointment],
    services_in_area: set[str],
    now: datetime,
    policy: Policy | None = None,
) -> list[tuple[date, str, datetime, datetime]]:
    """(day, window, start, end) for every bookable slot: inside the window, on a working day,
    and not already taken by another booked visit in the same area (one team per area and slot)."""
    first, last = technician_window(now.date(), policy)
    taken = {a.slot_start for a in appointments if a.status == "booked" and a.service_id in services_in_area}
    slots = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            for window in WINDOWS:
                start, end = slot_bounds(day, window, now.tzinfo)
                if start > now and start not in taken:
                    slots.append((day, window, start, end))
        day += timedelta(days=1)
    return slots
