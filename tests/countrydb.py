"""A country database for tests, in the MaxMind format the product reads (mmdb-writer):
addresses the tests can connect from are placed in the United States or in Japan."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

ABROAD_CLIENT = "127.0.0.2"  # "US"
JAPAN_CLIENT = "127.0.0.3"  # "JP"


def write_country_db(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Country", ipv4_compatible=True)
    writer.insert_network(
        IPSet([f"{ABROAD_CLIENT}/32", "203.0.113.0/24"]), {"country": {"iso_code": "US"}}
    )
    writer.insert_network(
        IPSet([f"{JAPAN_CLIENT}/32", "198.51.100.0/24"]), {"country": {"iso_code": "JP"}}
    )
    writer.to_db_file(str(path))
    return path
