"""WSGI entry point for gunicorn: ``gunicorn 'sekisho.webui.wsgi:app'``.

Configuration comes from SEKISHO_CONFIG / SEKISHO_* as for every other command.
"""

from __future__ import annotations

from sekisho.config import load_settings
from sekisho.webui import create_app

app = create_app(load_settings())
