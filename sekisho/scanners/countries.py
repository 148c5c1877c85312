"""Where a client address is: the operator's MaxMind/DB-IP ``.mmdb`` (``geoip_db``) when
configured, otherwise iptocc, an offline table of the regional registries' delegations
shipped inside the Python package (updated with each iptocc release: upgrade the package
to refresh it)."""

from __future__ import annotations

from typing import Any, Protocol

import iptocc
import maxminddb


class CountryLookup(Protocol):
    def country(self, client_address: str) -> str | None: ...


class MaxMindCountries:
    def __init__(self, path: str) -> None:
        self._reader = maxminddb.open_database(path)

    def country(self, client_address: str) -> str | None:
        try:
            record: Any = self._reader.get(client_address)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        for key in ("country", "registered_country"):
            code = (record.get(key) or {}).get("iso_code")
            if isinstance(code, str):
                return code
        return None


class RegistryCountries:
    def country(self, client_address: str) -> str | None:
        code = iptocc.country_code(client_address)
        return code if isinstance(code, str) else None


def country_lookup(geoip_db: str) -> CountryLookup:
    return MaxMindCountries(geoip_db) if geoip_db else RegistryCountries()
