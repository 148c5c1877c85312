"""Whether the author of a mail (its From domain) is authenticated: DMARC passed, or a
DKIM signature or SPF pass aligned with the From domain — as the spam engine found it.

The allow list (受信許可設定) trusts a From address only when this holds, since anyone can
write any From. The engines report it in their symbols; a mail they could not check
(no DNS, no engine) is "unknown", and an operator setting decides what the allow list
does then (sekisho.rules.decide).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from sekisho.rules.addresses import split_address


class Check(Enum):
    PASS = "pass"  # noqa: S105 -- a check's result, not a password
    FAIL = "fail"
    NONE = "none"  # not checked, or nothing to check (no record, a DNS failure)


@dataclass(frozen=True)
class SenderAuth:
    dmarc: Check = Check.NONE
    spf: Check = Check.NONE  # of the envelope sender's domain
    dkim_domains: frozenset[str] = frozenset()  # d= of every valid signature
    dkim_author_aligned: bool = False  # spamd's DKIM_VALID_AU: a valid author signature
    dkim_failed: bool = False


NOT_CHECKED = SenderAuth()
_RSPAMD_DMARC_FAIL = {"DMARC_POLICY_REJECT", "DMARC_POLICY_QUARANTINE", "DMARC_POLICY_SOFTFAIL"}
_SPAMD_DMARC_FAIL = {"DMARC_REJECT", "DMARC_QUAR", "DMARC_MISSING"}


def from_rspamd(symbols: Mapping[str, Sequence[str]]) -> SenderAuth:
    """rspamd's symbols with their options (R_DKIM_ALLOW's are ``domain:s=selector``)."""
    return SenderAuth(
        dmarc=_check(symbols, {"DMARC_POLICY_ALLOW"}, _RSPAMD_DMARC_FAIL),
        spf=_check(symbols, {"R_SPF_ALLOW"}, {"R_SPF_FAIL", "R_SPF_SOFTFAIL"}),
        dkim_domains=frozenset(
            option.partition(":")[0].lower() for option in symbols.get("R_DKIM_ALLOW", ())
        ),
        dkim_failed="R_DKIM_REJECT" in symbols,
    )


def from_spamd(symbols: Iterable[str]) -> SenderAuth:
    names = set(symbols)
    return SenderAuth(
        dmarc=_check(names, {"DMARC_PASS"}, _SPAMD_DMARC_FAIL),
        spf=_check(names, {"SPF_PASS"}, {"SPF_FAIL", "SPF_SOFTFAIL"}),
        dkim_author_aligned="DKIM_VALID_AU" in names,
        dkim_failed="DKIM_INVALID" in names,
    )


def _check(found: Iterable[str], passes: set[str], fails: set[str]) -> Check:
    names = set(found)
    if names & passes:
        return Check.PASS
    return Check.FAIL if names & fails else Check.NONE


def authenticated(
    auth: SenderAuth, from_domains: Iterable[str], envelope_sender: str
) -> bool | None:
    """True when the From domain is authenticated, False when the checks that ran do not
    vouch for it (failed, or passed for another domain), None when nothing was checked."""
    domains = set(from_domains)
    if not domains:
        return False
    _, envelope_domain = split_address(envelope_sender)
    signed = bool(auth.dkim_domains) and all(
        any(_aligned(domain, signer) for signer in auth.dkim_domains) for domain in domains
    )
    spf_aligned = auth.spf is Check.PASS and all(
        _aligned(domain, envelope_domain) for domain in domains
    )
    if auth.dmarc is Check.PASS or auth.dkim_author_aligned or signed or spf_aligned:
        return True
    if auth == NOT_CHECKED:
        return None
    return False  # checked, and nothing vouches for the From domain


def _aligned(author: str, other: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1), approximated without the public suffix list:
    one domain is the other or a subdomain of it, sharing at least two labels."""
    if not author or not other:
        return False
    shorter, longer = sorted((author, other), key=len)
    return (longer == shorter or longer.endswith("." + shorter)) and "." in shorter
