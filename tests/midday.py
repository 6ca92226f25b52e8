"""A hall time zone in which it is about noon now: remote tickets are issued only in hall hours (08:00-18:00),
so tests against a running app or NiceGUI's `user` set HALL_TIMEZONE to this, whenever they run."""

from __future__ import annotations

import datetime as dt


def midday_zone() -> str:
    """A fixed-offset zone (Etc/GMT±N, whose sign is inverted by POSIX) where the hour is about 12 now."""
    offset = 12 - dt.datetime.now(dt.UTC).hour
    if offset > 14:
        offset -= 24
    return f'Etc/GMT{-offset:+d}' if offset else 'Etc/GMT'
