# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Durations and ARM timestamps."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OptionError

_SIMPLE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$", re.IGNORECASE)
_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE)
_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_duration(value, option):
    """Seconds from ``90``, ``90s``, ``15m``, ``2h``, ``1d``, ``1h30m`` or ISO 8601 ``PT15M``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise OptionError(option, "a duration cannot be negative")
        return float(value)
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    match = _ISO.match(text) if text.upper().startswith("P") else _SIMPLE.match(text)
    if not text or not match or not any(match.groups()):
        raise OptionError(option, "%r is not a duration (examples: 90, 90s, 15m, 2h, 1d, 1h30m, PT15M)" % (value,))
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def parse_timestamp(value):
    """An aware UTC datetime from an ARM timestamp (ISO 8601, 7-digit fractions tolerated), or None."""
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    match = _TS.match(str(value).strip())
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    stamp = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
                              tzinfo=datetime.timezone.utc)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        stamp -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return stamp


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def age_seconds(value, now=None):
    """Seconds since an ARM timestamp, or None when it is missing or unreadable."""
    stamp = parse_timestamp(value)
    if stamp is None:
        return None
    return ((now or utcnow()) - stamp).total_seconds()
