"""A new Maildir folder's entry is fsynced into its parent, as the copy written into it is:
after a power cut neither the folder nor the mail in it may be gone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sekisho.maildir import Ownership, ensure_maildir


def test_each_new_folder_is_fsynced_into_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    root = tmp_path / "mail"
    root.mkdir()
    junk = root / "example.jp" / "taro" / ".Junk"
    ensure_maildir(junk, Ownership(), is_subfolder=True)
    created = [root / "example.jp", root / "example.jp" / "taro", junk]
    created += [junk / sub for sub in ("cur", "new", "tmp")]
    for folder in created:
        assert folder.is_dir()
        assert folder.parent in synced, f"{folder.name} not fsynced into {folder.parent}"
    assert root.parent not in synced  # only where a folder was made
