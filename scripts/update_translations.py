"""Re-extract every user-facing string and merge it into the Japanese catalog.

New msgids arrive untranslated (tests/test_web.py fails until they are translated);
strings no longer used are dropped. Run: .venv/bin/python scripts/update_translations.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "sekisho/webui/translations/ja/LC_MESSAGES/messages.po"
HEADER = """\
# Japanese translations of sekisho's user-facing text (the guide's labels, verbatim).
# msgids are English, which is also the fallback language.
# Update with: .venv/bin/python scripts/update_translations.py
"""


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "messages.pot"
        subprocess.run(
            [
                str(Path(sys.executable).with_name("pybabel")),
                "-q",
                "extract",
                "-F",
                "babel.cfg",
                "-k",
                "N_",
                "-k",
                "_l",
                "-o",
                str(template),
                ".",
            ],
            check=True,
            cwd=ROOT,
        )
        with template.open("rb") as handle:
            extracted = read_po(handle, locale="ja")
    with CATALOG.open("rb") as handle:
        current = read_po(handle, locale="ja")
    current.update(extracted, no_fuzzy_matching=True, update_creation_date=False)
    current.obsolete.clear()
    current.fuzzy = False
    current.project, current.version = "sekisho", "1"
    current.header_comment = HEADER.rstrip()
    with CATALOG.open("wb") as handle:
        write_po(
            handle,
            current,
            no_location=True,
            sort_output=True,
            width=0,
            omit_header=False,
            include_previous=False,
        )
    missing = [m.id for m in current if m.id and not m.string]
    for msgid in missing:
        print(f"untranslated: {msgid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
