"""国外からのメール送信制限 (docs/features.md §10): may a logged-in customer submit from here?

Submission from outside the home country (Japan) is refused unless the owner lifted the
restriction, each time for one week from that moment; it returns by itself when the week
ends. Loopback and private addresses count as domestic by default (the ISP's own
webmail and networks). An address the country data does not know counts as abroad: the
restriction exists against stolen passwords used from elsewhere, and an unknown origin
is no reason to lift it.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

UNLOCK_PERIOD = timedelta(days=7)


def is_unlocked(unlocked_until: datetime | None, now: datetime) -> bool:
    return unlocked_until is not None and now < unlocked_until


def unlock_ends(now: datetime) -> datetime:
    """Lifting (or lifting again while lifted) runs one week from now."""
    return now + UNLOCK_PERIOD


def is_local_network(client_address: str) -> bool:
    """Loopback, private, link-local, or no network peer at all (a local socket)."""
    if not client_address:
        return True
    try:
        address = ipaddress.ip_address(client_address.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def submission_allowed(
    country: str | None,
    local_network: bool,
    unlocked_until: datetime | None,
    now: datetime,
    home_country: str = "JP",
    local_is_domestic: bool = True,
) -> bool:
    if is_unlocked(unlocked_until, now):
        return True
    if local_network and local_is_domestic:
        return True
    return country is not None and country.upper() == home_country.upper()
