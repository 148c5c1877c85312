"""WSGI entry point for gunicorn: ``gunicorn 'sekisho.webui.wsgi:app'``.

Configuration comes from SEKISHO_CONFIG / SEKISHO_* as for every other command, and so
does the logging: gunicorn runs no sekisho command, and without it the INFO lines
(``login_failed``, ``settings_changed``) would be dropped.
"""

from __future__ import annotations

from sekisho.config import load_settings
from sekisho.logsetup import configure_logging
from sekisho.webui import create_app

settings = load_settings()
configure_logging(settings)
app = create_app(settings)
