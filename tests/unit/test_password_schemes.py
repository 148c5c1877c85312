"""Imported password hashes: every scheme Dovecot verifies takes the original password and
refuses another; a malformed or unknown hash is named, not stored."""

from __future__ import annotations

import pytest

from sekisho.store.passwords import HashError, check_hash, is_weak, scheme_of, verify_password
from tests.imported_hashes import HASHES, PASSWORD, VARIANTS

ALL = [*HASHES.values(), *VARIANTS.values()]


@pytest.mark.parametrize("stored", ALL)
def test_the_original_password_matches_and_no_other(stored: str) -> None:
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, "taro1235")
    assert not verify_password(stored, "")


@pytest.mark.parametrize("stored", ALL)
def test_a_well_formed_hash_is_taken_as_given(stored: str) -> None:
    assert check_hash(stored) == stored


def test_the_scheme_prefix_is_read_in_any_case() -> None:
    lower = HASHES["SSHA"].replace("{SSHA}", "{ssha}")
    assert verify_password(lower, PASSWORD)
    assert check_hash(lower) == HASHES["SSHA"]


def test_only_argon2id_is_strong() -> None:
    assert [name for name, stored in HASHES.items() if not is_weak(stored)] == ["ARGON2ID"]
    assert scheme_of(HASHES["BLF-CRYPT"]) == "BLF-CRYPT"


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("$6$salt$abc", "must start with one of {ARGON2ID}, {SHA512-CRYPT}"),
        ("{MD5}1bc29b36f623ba82aaf6724fd3b16718", "must start with one of"),
        ("{SHA512-CRYPT}$6$salt$short", "not a well-formed {SHA512-CRYPT} hash"),
        ("{SSHA}not base64!", "not a well-formed {SSHA} hash"),
        ("{SSHA}c2hvcnQ=", "not a well-formed {SSHA} hash"),
        ("{PLAIN-MD5}afd49503", "not a well-formed {PLAIN-MD5} hash"),
        ("{ARGON2ID}$argon2i$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", "{ARGON2ID}"),
        ("{CRYPT}toolong-for-des", "not a well-formed {CRYPT} hash"),
    ],
)
def test_a_malformed_or_unknown_hash_is_named(stored: str, message: str) -> None:
    with pytest.raises(HashError, match=message.replace("{", r"\{").replace("$", r"\$")):
        check_hash(stored)
    assert not verify_password(stored, PASSWORD)
