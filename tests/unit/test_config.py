"""Configuration layers: defaults → TOML → SEKISHO_* environment → flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from sekisho.config import ConfigError, load_settings

EXAMPLE = Path(__file__).parents[2] / "deploy/sekisho.toml.example"


def test_defaults_without_any_file() -> None:
    settings = load_settings(environ={"SEKISHO_SECRET_KEY": "k"})
    assert settings.database_url == "sqlite:///var/sekisho.db"
    assert settings.mail_root == Path("var/mail")
    assert settings.milter_listen.startswith("unix:")
    assert settings.web_listen == "127.0.0.1:8080"


def test_the_shipped_example_file_loads() -> None:
    settings = load_settings(EXAMPLE, environ={"SEKISHO_SECRET_KEY": "k"})
    assert settings.mail_root == Path("/var/mail/vhosts")
    assert settings.mailbox_uid_gid == (5000, 5000)
    assert settings.session_cookie_secure is True


def test_environment_beats_file_and_flags_beat_environment() -> None:
    environ = {
        "SEKISHO_SECRET_KEY": "k",
        "SEKISHO_WEB_LISTEN": "127.0.0.1:9000",
        "SEKISHO_POLICY_REFRESH_SECONDS": "0.25",
    }
    settings = load_settings(EXAMPLE, environ=environ)
    assert settings.web_listen == "127.0.0.1:9000"
    assert settings.policy_refresh_seconds == 0.25
    flagged = load_settings(EXAMPLE, environ=environ, overrides={"web_listen": "127.0.0.1:9001"})
    assert flagged.web_listen == "127.0.0.1:9001"


def test_unknown_key_and_bad_value_are_named(tmp_path: Path) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text('mail_rot = "/x"\n')
    with pytest.raises(ConfigError, match="unknown keys mail_rot"):
        load_settings(typo, environ={})
    with pytest.raises(ConfigError, match="milter_timeout: 'soon' is not a valid int"):
        load_settings(environ={"SEKISHO_SECRET_KEY": "k", "SEKISHO_MILTER_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="session_cookie_secure: 'maybe' is not a valid bool"):
        load_settings(environ={"SEKISHO_SECRET_KEY": "k", "SEKISHO_SESSION_COOKIE_SECURE": "maybe"})
