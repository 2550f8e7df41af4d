"""Cron expressions: a standard 5-field crontab read as an APScheduler trigger.

Shared by the jobs scheduler and the trading configuration (which checks a reconciliation schedule
when it is read), below both, so neither imports the other for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portico.errors import ConfigurationError

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

__all__ = ["cron_trigger"]

_DOW = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _dow_field(field: str) -> str:
    # crontab counts Sunday as 0 (and 7); APScheduler 3 counts Monday as 0. Names mean the same to both.
    out: list[str] = []
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            lo, hi = 0, 6
        elif "-" in base:
            a, b = base.split("-", 1)
            if not (a.isdigit() and b.isdigit()):
                out.append(part)
                continue
            lo, hi = int(a), int(b)
        elif base.isdigit():
            lo = hi = int(base)
            if step_text:
                hi = 6
        else:
            out.append(part)
            continue
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi):
            raise ValueError(f"day-of-week {part!r} out of range 0-7")
        if base == "*" and step == 1:
            out.append("*")
            continue
        out.extend(dict.fromkeys(_DOW[d] for d in range(lo, hi + 1, step)))
    return ",".join(dict.fromkeys(out))


def cron_trigger(expr: str, timezone: str) -> BaseTrigger:
    """A trigger for a standard 5-field crontab expression (Sunday is 0 or 7, as in cron)."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ConfigurationError(
            f"cron expression {expr!r} needs 5 fields (minute hour day month day-of-week)", path="schedule"
        )
    try:
        fields[4] = _dow_field(fields[4])
        return CronTrigger(
            minute=fields[0],
            hour=fields[1],
            day=fields[2],
            month=fields[3],
            day_of_week=fields[4],
            timezone=timezone,
        )
    except ValueError as exc:
        raise ConfigurationError(f"invalid cron expression {expr!r}: {exc}", path="schedule") from None
