"""Per-request access to the store and the settings, in one place."""

from __future__ import annotations

from flask import current_app

from sekisho.config import Settings
from sekisho.quarantine_folder import QuarantineFolder
from sekisho.store.db import Store


def store() -> Store:
    found: Store = current_app.extensions["sekisho.store"]
    return found


def settings() -> Settings:
    found: Settings = current_app.extensions["sekisho.settings"]
    return found


def quarantine_folder() -> QuarantineFolder:
    found: QuarantineFolder = current_app.extensions["sekisho.quarantine_folder"]
    return found
