"""Address normalisation and the label-boundary suffix matcher of docs/features.md §5.

Entry forms (all case-insensitive):
- ``example.com``       the domain and every subdomain (``a@example.com``, ``a@x.example.com``)
- ``@example.com``      that domain only, no subdomains
- ``taro@example.com``  exactly that address
A lookup costs O(labels of the address), whatever the number of entries.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


def normalize_address(address: str) -> str:
    """The canonical form Postfix delivers by, for matching and mailbox lookups.

    Drops angle brackets, a source route (``@relay:``) and the quotes of a quoted local
    part, folds full-width characters (NFKC: what a Japanese IME types), lower-cases,
    removes the root dot of the domain and turns an internationalised domain into its
    ASCII (IDNA) form, so ``<"Taro"@Example.JP.>`` and ``taro@example.jp`` are one address.
    """
    text = unicodedata.normalize("NFKC", address).strip().strip("<>").strip()
    if text.startswith("@") and ":" in text:
        text = text.rpartition(":")[2]
    local, at, domain = text.rpartition("@")
    if not at:
        return _ascii_domain(text)
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = re.sub(r"\\(.)", r"\1", local[1:-1])
    return f"{local.lower()}@{_ascii_domain(domain)}" if local or domain else ""


def _ascii_domain(domain: str) -> str:
    domain = domain.lower().rstrip(".")
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def split_address(address: str) -> tuple[str, str]:
    """(local part, domain) of a normalised address; the domain is '' when there is no '@'."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address, ""
    return local, domain


def domain_suffixes(domain: str) -> list[str]:
    """``a.b.c`` → ``["a.b.c", "b.c", "c"]``: every label-boundary suffix."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


@dataclass(frozen=True)
class SuffixMatcher:
    """Three hash maps from normalised key to the entry as the user registered it."""

    addresses: dict[str, str]
    exact_domains: dict[str, str]
    domain_trees: dict[str, str]

    @classmethod
    def build(cls, entries: Iterable[str]) -> SuffixMatcher:
        return cls.from_keys((normalize_address(entry), entry) for entry in entries)

    @classmethod
    def from_keys(cls, pairs: Iterable[tuple[str, str]]) -> SuffixMatcher:
        """From (normalised key, entry as registered) pairs, as the store keeps them."""
        addresses: dict[str, str] = {}
        exact_domains: dict[str, str] = {}
        domain_trees: dict[str, str] = {}
        for key, entry in pairs:
            if key.startswith("@"):
                exact_domains[key[1:]] = entry
            elif "@" in key:
                addresses[key] = entry
            else:
                domain_trees[key] = entry
        return cls(addresses, exact_domains, domain_trees)

    def __len__(self) -> int:
        return len(self.addresses) + len(self.exact_domains) + len(self.domain_trees)

    def match(self, address: str) -> str | None:
        """The entry that covers ``address``, or None. The null sender matches nothing."""
        key = normalize_address(address)
        if not key:
            return None
        if key in self.addresses:
            return self.addresses[key]
        _, domain = split_address(key)
        if not domain:
            return None
        if domain in self.exact_domains:
            return self.exact_domains[domain]
        for suffix in domain_suffixes(domain):
            if suffix in self.domain_trees:
                return self.domain_trees[suffix]
        return None


EMPTY_MATCHER = SuffixMatcher({}, {}, {})
