"""Password hashes in the schemes Dovecot verifies: ``{SCHEME}`` + the scheme's own form.

Dovecot's SQL passdb reads the same column, so a change here changes the POP login.
Sekisho writes only ``{ARGON2ID}``; the other schemes are what an ISP imports from its
earlier POP server (``sekisho account import``), verified here as Dovecot verifies them so
the web UI takes the same password, and replaced by ARGON2ID at the next web login.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from passlib.hash import bcrypt, des_crypt, md5_crypt, sha256_crypt, sha512_crypt

STRONG = "ARGON2ID"
SCHEME = "{" + STRONG + "}"
_hasher = PasswordHasher()
# Letters and digits only, without look-alikes (0/O, 1/l/I): read off a letter by a human.
_TEMPORARY_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
Handler = Any  # a passlib hash class; passlib ships no type hints
# {CRYPT} is whatever the C library's crypt(3) takes: DES (13 characters, no "$") or one
# of the modular formats, told apart by their "$id$" as crypt(3) does.
_CRYPT_FORMATS: tuple[Handler, ...] = (sha512_crypt, sha256_crypt, md5_crypt, bcrypt)


class HashError(ValueError):
    """A stored form that is not a hash Dovecot would verify."""


def hash_password(password: str) -> str:
    """The stored form: ``{ARGON2ID}$argon2id$v=19$…``."""
    return SCHEME + _hasher.hash(password)


def scheme_of(stored: str) -> str:
    """``SHA512-CRYPT`` for ``{SHA512-CRYPT}$6$…``; "" when there is no ``{…}`` prefix."""
    if not stored.startswith("{"):
        return ""
    name, closed, _ = stored[1:].partition("}")
    return name.upper() if closed else ""


def is_weak(stored: str) -> bool:
    """Anything but ARGON2ID: replaced at the next web login."""
    return scheme_of(stored) != STRONG


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches, in any scheme of SCHEMES; False for a malformed hash."""
    scheme = _SCHEMES.get(scheme_of(stored))
    if scheme is None:
        return False
    try:
        return scheme.verify(stored[len(scheme_of(stored)) + 2 :], password)
    except (ValueError, TypeError):  # passlib's word for a malformed hash
        return False


def check_hash(stored: str) -> str:
    """The stored form as given, when it is a well-formed hash of a known scheme; the
    scheme prefix in upper case, as Dovecot writes it. HashError says what is wrong."""
    name = scheme_of(stored)
    scheme = _SCHEMES.get(name)
    if scheme is None:
        known = ", ".join("{" + known + "}" for known in _SCHEMES)
        raise HashError(f"the hash must start with one of {known}")
    rest = stored[len(name) + 2 :]
    if not scheme.well_formed(rest):
        raise HashError(f"not a well-formed {{{name}}} hash")
    return "{" + name + "}" + rest


class _Scheme:
    def __init__(
        self, verify: Callable[[str, str], bool], well_formed: Callable[[str], bool]
    ) -> None:
        self.verify = verify
        self.well_formed = well_formed


def _argon2_verify(rest: str, password: str) -> bool:
    try:
        return _hasher.verify(rest, password)
    except (VerificationError, InvalidHashError):
        return False


def _argon2_well_formed(rest: str) -> bool:
    try:
        return extract_parameters(rest).type.name == "ID"
    except InvalidHashError:
        return False


def _parses(handler: Handler) -> Callable[[str], bool]:
    def well_formed(rest: str) -> bool:
        try:
            handler.from_string(rest)
        except (ValueError, TypeError):
            return False
        return True

    return well_formed


def _passlib(handler: Handler) -> _Scheme:
    return _Scheme(lambda rest, password: bool(handler.verify(password, rest)), _parses(handler))


def _crypt_handler(rest: str) -> Handler:
    for handler in _CRYPT_FORMATS:
        if handler.identify(rest):
            return handler
    return des_crypt


def _crypt() -> _Scheme:
    return _Scheme(
        lambda rest, password: bool(_crypt_handler(rest).verify(password, rest)),
        lambda rest: _parses(_crypt_handler(rest))(rest),
    )


def _decoded(rest: str) -> bytes | None:
    try:
        return base64.b64decode(rest, validate=True)
    except (binascii.Error, ValueError):
        return None


def _salted(algorithm: str, digest_size: int) -> _Scheme:
    """{SSHA}, {SSHA512}: base64 of digest(password + salt) + salt, any salt length (Dovecot
    writes 4 bytes, OpenLDAP 4 or 8)."""

    def verify(rest: str, password: str) -> bool:
        decoded = _decoded(rest)
        if decoded is None or len(decoded) <= digest_size:
            return False
        digest, salt = decoded[:digest_size], decoded[digest_size:]
        computed = hashlib.new(algorithm, password.encode() + salt).digest()
        return hmac.compare_digest(digest, computed)

    def well_formed(rest: str) -> bool:
        decoded = _decoded(rest)
        return decoded is not None and len(decoded) > digest_size

    return _Scheme(verify, well_formed)


def _plain_md5_digest(rest: str) -> bytes | None:
    """{PLAIN-MD5}: 32 hex digits as Dovecot writes it, or the 24-character base64 it
    also reads."""
    if len(rest) == 32:
        try:
            return bytes.fromhex(rest)
        except ValueError:
            return None
    decoded = _decoded(rest)
    return decoded if decoded is not None and len(decoded) == 16 else None


def _plain_md5() -> _Scheme:
    def verify(rest: str, password: str) -> bool:
        digest = _plain_md5_digest(rest)
        computed = hashlib.md5(password.encode(), usedforsecurity=False).digest()
        return digest is not None and hmac.compare_digest(digest, computed)

    return _Scheme(verify, lambda rest: _plain_md5_digest(rest) is not None)


# The schemes an account may carry, strongest first.
_SCHEMES: dict[str, _Scheme] = {
    STRONG: _Scheme(_argon2_verify, _argon2_well_formed),
    "SHA512-CRYPT": _passlib(sha512_crypt),
    "SHA256-CRYPT": _passlib(sha256_crypt),
    "BLF-CRYPT": _passlib(bcrypt),
    "MD5-CRYPT": _passlib(md5_crypt),
    "SSHA512": _salted("sha512", 64),
    "SSHA": _salted("sha1", 20),
    "CRYPT": _crypt(),
    "PLAIN-MD5": _plain_md5(),
}
SCHEMES = tuple(_SCHEMES)


def temporary_password(length: int = 12) -> str:
    """A random password meeting docs/features.md §3 (letters and digits, at least one of each)."""
    while True:
        candidate = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


# Verified when an address is unknown, so a failed login costs the same either way.
DECOY_HASH = hash_password(secrets.token_hex(16))
