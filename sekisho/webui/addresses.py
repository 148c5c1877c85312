"""A mail address on a list page: whole when its column has room, broken only where an
address may be when it has not.

A sender's address has no limit on its length (a forwarder's SRS address, a mailing list's
bounce address, a spammer's token): left whole it pushes a list past a 1024 px screen, and
broken anywhere (as a subject is) an ordinary address splits inside a word even when one
line would do. So the places an address may break are marked (``<wbr>``): after ``@``,
``=``, ``+`` and ``-``, before a dot, and inside a run longer than ``_LONGEST`` characters
with none of those; the browser breaks there only when the column needs it. An address
of up to ``_WHOLE`` characters fits its column anyway (the spam folder's six columns in
English leave it about 21 at 1024 px) and is left as it is.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_LONGEST = 12  # characters: a column of them leaves room for the others at 1024 px
_WHOLE = 20
_PLACES = re.compile(r"(?<=[@=+\-])|(?=\.)")


def breakable(address: str) -> Markup:
    if len(address) <= _WHOLE:
        return escape(address)
    pieces = [
        piece[start : start + _LONGEST]
        for piece in _PLACES.split(address)
        for start in range(0, len(piece), _LONGEST)
    ]
    return Markup("<wbr>").join(escape(piece) for piece in pieces)
