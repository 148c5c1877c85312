"""The rules of a new POP account password (docs/features.md §3), each broken rule on its own.

6–32 characters; ASCII letters, digits and ``% + - . / : = @ ^ _`` only; at least one
letter and one digit. A space and a full-width (non-ASCII) character get messages of
their own: they are what people type by mistake, and "not allowed" alone does not say
which character to look for.
"""

from __future__ import annotations

import string

from sekisho.rules.problems import N_, Problem

MIN_LENGTH = 6
MAX_LENGTH = 32
# The longest password a login is checked against: one set before sekisho (by an
# operator's import) may exceed the rules above; anything longer is not worth a hash.
LONGEST_CHECKED = 128
SYMBOLS = "%+-./:=@^_"
ALLOWED = frozenset(string.ascii_letters + string.digits + SYMBOLS)


def password_problems(password: str) -> list[Problem]:
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(
            Problem(
                N_("The password is too short: use at least {minimum} characters ({count} now)."),
                params={"minimum": MIN_LENGTH, "count": len(password)},
            )
        )
    if len(password) > MAX_LENGTH:
        problems.append(
            Problem(
                N_("The password is too long: use at most {maximum} characters ({count} now)."),
                params={"maximum": MAX_LENGTH, "count": len(password)},
            )
        )
    if any(character.isspace() for character in password):
        problems.append(Problem(N_("The password contains a space; spaces cannot be used.")))
    wide = sorted({c for c in password if not c.isascii() and not c.isspace()})
    if wide:
        problems.append(
            Problem(
                N_(
                    "The password contains full-width or other non-ASCII characters ({entry}): "
                    "use half-width letters and digits."
                ),
                entry=" ".join(wide),
            )
        )
    symbols = sorted({c for c in password if c.isascii() and not c.isspace()} - ALLOWED)
    if symbols:
        problems.append(
            Problem(
                N_("The symbols {entry} cannot be used; the symbols allowed are {allowed}."),
                entry=" ".join(symbols),
                params={"allowed": " ".join(SYMBOLS)},
            )
        )
    if not any(c in string.ascii_letters for c in password):
        problems.append(Problem(N_("The password must contain at least one letter (a–z, A–Z).")))
    if not any(c in string.digits for c in password):
        problems.append(Problem(N_("The password must contain at least one digit (0–9).")))
    return problems
