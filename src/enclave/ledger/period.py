"""A reporting period: whole UTC days, from the first day's 00:00:00 (included) to the day after the last one's
00:00:00 (excluded), so a row at 23:59:59 belongs to its day and one at 00:00:00 to the next, on every database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from enclave.errors import InvalidRequest

Named = Literal["month", "week", "day"]
DAY = dt.timedelta(days=1)


def _day(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{field}: {text!r} is not a date (YYYY-MM-DD)", param=field) from None


@dataclass(frozen=True, slots=True)
class Period:
    first: dt.date  # included from 00:00:00 UTC
    last: dt.date  # included up to 23:59:59.999999 UTC

    @property
    def end(self) -> dt.date:
        """The first day after the period (its 00:00:00 UTC is excluded)."""
        return self.last + DAY

    def elapsed_seconds(self, now: dt.datetime) -> float:
        """Seconds of the period that have passed at ``now`` (all of it once it is over, none before it starts)."""
        start = dt.datetime.combine(self.first, dt.time(), dt.UTC)
        stop = min(dt.datetime.combine(self.end, dt.time(), dt.UTC), now)
        return max(0.0, (stop - start).total_seconds())

    def describe(self) -> dict[str, str]:
        return {
            "since": self.first.isoformat(),
            "until": self.last.isoformat(),
            "start": f"{self.first.isoformat()}T00:00:00Z",
            "end": f"{self.end.isoformat()}T00:00:00Z",
            "bounds": "start included, end excluded",
        }


def named_period(name: Named, today: dt.date) -> Period:
    """The calendar month, ISO week (Monday first) or day holding ``today``, whole."""
    if name == "day":
        return Period(today, today)
    if name == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return Period(monday, monday + 6 * DAY)
    first = today.replace(day=1)
    following = (first + 32 * DAY).replace(day=1)
    return Period(first, following - DAY)


def period_of(since: str | None, until: str | None, name: Named | None, today: dt.date) -> Period:
    """The period the options name: ``since``/``until`` (days, both included; ``until`` defaults to today), or a
    named one; neither means this month. Mixing them, an ``until`` alone or one before ``since`` is a client
    error naming the option."""
    if name is not None:
        if since or until:
            raise InvalidRequest("period: give either a named period or since/until dates, not both", param="period")
        return named_period(name, today)
    if since is None:
        if until is not None:
            raise InvalidRequest("until: needs since (the first day of the period)", param="until")
        return named_period("month", today)
    first = _day(since, "since")
    last = _day(until, "until") if until is not None else today
    if last < first:
        raise InvalidRequest(f"until: {last} is before since {first}", param="until")
    return Period(first, last)
