"""Password hashes in a scheme Dovecot verifies: ``{ARGON2ID}`` + the PHC string.

Dovecot's SQL passdb reads the same column, so a change here changes the POP login.
"""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SCHEME = "{ARGON2ID}"
_hasher = PasswordHasher()
# Letters and digits only, without look-alikes (0/O, 1/l/I): read off a letter by a human.
_TEMPORARY_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def hash_password(password: str) -> str:
    """The stored form: ``{ARGON2ID}$argon2id$v=19$…``."""
    return SCHEME + _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    if not stored.startswith(SCHEME):
        return False
    try:
        return _hasher.verify(stored.removeprefix(SCHEME), password)
    except (VerificationError, InvalidHashError):
        return False


def temporary_password(length: int = 12) -> str:
    """A random password meeting docs/features.md §3 (letters and digits, at least one of each)."""
    while True:
        candidate = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


# Verified when an address is unknown, so a failed login costs the same either way.
DECOY_HASH = hash_password(secrets.token_hex(16))
