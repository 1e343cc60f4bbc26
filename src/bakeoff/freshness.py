"""How old a checked fact is, and when it counts as stale (hosted prices, catalog entries).

A fact checked more than six months ago is stale: prices change and model cards get edited. Dates
may be a day (YYYY-MM-DD) or, for older records, a month (YYYY-MM, read as its first day, so the
age is never understated).
"""

from __future__ import annotations

import datetime as dt
import re

STALE_AFTER_DAYS = 183          # about six months
STALE_LABEL = "6 months"


def parse_checked(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", str(value).strip())
    if not m:
        raise ValueError(f"not a date: {value!r} (use YYYY-MM-DD)")
    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))


def age_days(checked: dt.date | str, today: dt.date | None = None) -> int:
    return ((today or dt.date.today()) - parse_checked(checked)).days


def is_stale(checked: dt.date | str, today: dt.date | None = None) -> bool:
    return age_days(checked, today) > STALE_AFTER_DAYS


def describe_age(days: int) -> str:
    """'12 days', '3 months', '2 years 1 month' (months of 30.44 days)."""
    if days < 0:
        return "in the future"
    if days < 61:
        return f"{days} day{'s' if days != 1 else ''}"
    months = round(days / 30.44)
    years, months = divmod(months, 12)
    parts = ([f"{years} year{'s' if years != 1 else ''}"] if years else []) + (
        [f"{months} month{'s' if months != 1 else ''}"] if months else [])
    return " ".join(parts)


def stale_note(what: str, dates: list[dt.date | str], today: dt.date | None = None) -> str | None:
    """One line saying `what` is older than six months, or None when every date is recent."""
    if not dates:
        return None
    oldest = min(parse_checked(d) for d in dates)
    days = age_days(oldest, today)
    if days <= STALE_AFTER_DAYS:
        return None
    return (f"{what} last checked {oldest.isoformat()} ({describe_age(days)} ago, over "
            f"{STALE_LABEL}): check the sources before relying on them")
