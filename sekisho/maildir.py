"""Maildirs on disk: durable writes (temp file, fsync, rename into new/, fsync the
folder), finding a message again, rewriting it in place and moving it between folders
durably, removing it.

Folders are created with the delivery agent's owner so that Postfix's virtual(8) and
Dovecot can keep using a mailbox whose first folder the milter happened to create.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_counter = itertools.count()
MAILDIR_SUBFOLDERS = ("tmp", "new", "cur")
# The quarantine: the mailbox's spam folder, which Dovecot and webmail show as "Junk".
JUNK_FOLDER = ".Junk"


@dataclass(frozen=True)
class Ownership:
    """uid/gid for created folders and files (None: keep the process's own)."""

    uid_gid: tuple[int, int] | None = None
    dir_mode: int = 0o700
    file_mode: int = 0o600

    def apply(self, path: Path) -> None:
        if self.uid_gid is not None:
            os.chown(path, *self.uid_gid)


def mailbox_path(mail_root: Path, address: str) -> Path:
    """``<root>/<domain>/<local>/`` of a normalised address (Dovecot: ``%d/%n``)."""
    local, _, domain = address.rpartition("@")
    if not local or not domain or "/" in address or local.startswith(".") or domain == "..":
        raise ValueError(f"cannot place a mailbox for {address!r}")
    return mail_root / domain / local


def _make_dirs(path: Path, ownership: Ownership) -> None:
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        # Made and owned under another name, then renamed into place: Postfix's delivery
        # agent, writing into the same mailbox meanwhile, never finds it still the
        # milter's own (it would defer that mail: "maildir access problem").
        staged = folder.with_name(f"{folder.name}.sekisho-{os.getpid()}-{next(_counter)}")
        staged.mkdir(mode=ownership.dir_mode)
        try:
            ownership.apply(staged)
            os.rename(staged, folder)
        except OSError:
            staged.rmdir()
            if folder.is_dir():  # made meanwhile by another writer, with files in it
                continue
            raise
        # The new folder's entry must survive a power cut like the copy written into it.
        _fsync_dir(folder.parent)


def ensure_maildir(folder: Path, ownership: Ownership, is_subfolder: bool) -> None:
    for sub in MAILDIR_SUBFOLDERS:
        _make_dirs(folder / sub, ownership)
    marker = folder / "maildirfolder"
    if is_subfolder and not marker.exists():
        marker.touch(mode=ownership.file_mode)
        ownership.apply(marker)


def unique_name(size: int) -> str:
    now = time.time()
    seconds, micro = int(now), int((now % 1) * 1_000_000)
    return f"{seconds}.M{micro}P{os.getpid()}Q{next(_counter)}.{_host()},S={size}"


def keyed_name(key: str) -> str:
    """The one file name a message with this key has in a folder, whichever attempt wrote
    it: a retry after a crash between the write and its record finds (or replaces) the
    first attempt's file instead of adding a second copy. The key is digested: it may
    hold any text, a file name may not."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return f"K{digest}.{_host()}"


def _host() -> str:
    """This host's name as a Maildir file name may hold it."""
    return socket.gethostname().replace("/", "\\057").replace(":", "\\072")


def deliver(
    folder: Path, chunks: Iterable[bytes], ownership: Ownership, name: str | None = None
) -> str:
    """Write ``chunks`` as one message into ``folder/new``; return the file name. A
    ``name`` given replaces a file of that name in new/ (the same message again)."""
    temp, size = _written(folder, chunks, ownership)
    try:
        name = name or unique_name(size)
        os.rename(temp, folder / "new" / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder / "new")
    return name


def deliver_once(folder: Path, name: str, chunks: Iterable[bytes], ownership: Ownership) -> None:
    """Write the message of keyed ``name`` (keyed_name) into ``folder`` unless a mail
    program has seen it already: a file an earlier attempt left in new/ (one that died
    before its row was written) is replaced by the same message, one in cur/ is kept as
    it is, so the folder never holds the message twice."""
    left = find_message(folder, name)
    if left is None or left.parent.name == "new":
        deliver(folder, chunks, ownership, name)


def rewrite_message(
    message: Path, edit: Callable[[BinaryIO], Iterable[bytes]], ownership: Ownership
) -> None:
    """Replace ``message`` by ``edit`` of its content, durably and under the same name:
    the new file is written into the folder's tmp/ and fsynced, then renamed over the
    old one, so the folder holds one of the two at every moment, never both or neither.

    Raises FileNotFoundError, changing nothing, when the message was moved meanwhile (a
    mail program marking it read renames it): renaming over its old name then would
    leave the mail twice in the folder. (Only a move within the instant between the last
    check and the rename goes unseen: Maildir has no lock to close that.)
    """
    with message.open("rb") as original:
        inode = os.fstat(original.fileno()).st_ino
        temp, _ = _written(message.parent.parent, edit(original), ownership)
    try:
        moved = os.stat(message).st_ino != inode
        if not moved:
            os.rename(temp, message)
    finally:
        temp.unlink(missing_ok=True)  # nothing left to remove once renamed
    if moved:
        raise FileNotFoundError(f"{message} was moved meanwhile")
    _fsync_dir(message.parent)


def _written(folder: Path, chunks: Iterable[bytes], ownership: Ownership) -> tuple[Path, int]:
    """``chunks`` in a new file of ``folder/tmp``, on disk; its path and size."""
    temp = folder / "tmp" / unique_name(0)
    size = 0
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, ownership.file_mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        ownership.apply(temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, size


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def find_message(folder: Path, name: str) -> Path | None:
    """Where ``name`` is now: still in new/, or in cur/ once a mail program saw it (which
    appends ``:2,<flags>``). None when it was moved away or deleted."""
    fresh = folder / "new" / name
    if fresh.exists():
        return fresh
    seen = folder / "cur"
    for candidate in (seen / name, *seen.glob(f"{_glob_escape(name)}:2,*")):
        if candidate.exists():
            return candidate
    return None


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def move_to_new(message: Path, folder: Path, ownership: Ownership) -> Path:
    """Move ``message`` into ``folder/new`` durably: one rename on the same file system,
    so the mail is in exactly one of the two folders at every moment."""
    ensure_maildir(folder, ownership, is_subfolder=folder.name.startswith("."))
    target = folder / "new" / message.name.partition(":")[0]
    os.rename(message, target)
    _fsync_dir(target.parent)
    _fsync_dir(message.parent)
    return target


def remove_message(message: Path) -> None:
    message.unlink(missing_ok=True)
    _fsync_dir(message.parent)


def remove_mailbox(mail_root: Path, address: str) -> Path:
    """Remove a deleted account's whole Maildir (inbox, .Junk and every folder); the path."""
    folder = mailbox_path(mail_root.absolute(), address)
    if folder.is_dir():
        shutil.rmtree(folder)
    return folder
