"""Configuration layers: defaults → TOML → SEKISHO_* environment → flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from sekisho.config import ConfigError, SpamOnFailure, load_settings, local_secret_key

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
    assert settings.mailbox_uid_gid is None
    assert settings.milter_listen == "unix:/var/spool/postfix/sekisho/milter.sock"
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


def test_integer_for_a_float_key_and_mailbox_owner_checked_at_load(tmp_path: Path) -> None:
    config = tmp_path / "int.toml"
    config.write_text("policy_refresh_seconds = 2\n")
    assert load_settings(config, environ={}).policy_refresh_seconds == 2.0
    with pytest.raises(ConfigError, match="mailbox_owner: 'vmail:vmail' is not uid:gid"):
        load_settings(environ={"SEKISHO_MAILBOX_OWNER": "vmail:vmail"})


def test_secret_key_is_required_without_a_local_sqlite_store() -> None:
    settings = load_settings(environ={"SEKISHO_DATABASE_URL": "postgresql://db/sekisho"})
    with pytest.raises(ConfigError, match="secret_key must be set"):
        local_secret_key(settings)


def test_local_secret_key_is_created_once(tmp_path: Path) -> None:
    settings = load_settings(environ={"SEKISHO_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"})
    first = local_secret_key(settings)
    assert len(first) == 64
    assert local_secret_key(settings) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_shipped_example_trusts_its_local_proxy_and_bounds_sessions_and_uploads() -> None:
    settings = load_settings(EXAMPLE, environ={"SEKISHO_SECRET_KEY": "k"})
    assert settings.web_proxies == 1
    assert [str(network) for network in settings.web_proxy_networks] == ["127.0.0.1/32", "::1/128"]
    assert (settings.session_idle_minutes, settings.session_absolute_hours) == (30, 12)
    assert (settings.upload_max_bytes, settings.upload_max_lines) == (2 * 1024 * 1024, 20_000)


def test_a_bad_proxy_address_or_a_zero_limit_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match=r"web_proxy_addresses: 'proxy\.example'"):
        load_settings(environ={"SEKISHO_WEB_PROXY_ADDRESSES": "127.0.0.1, proxy.example"})
    with pytest.raises(ConfigError, match="upload_max_lines: must be at least 1"):
        load_settings(environ={"SEKISHO_UPLOAD_MAX_LINES": "0"})


def test_spam_on_failure_takes_the_two_words_and_refuses_any_other(tmp_path: Path) -> None:
    assert load_settings(environ={}).spam_on_failure is SpamOnFailure.TEMPFAIL
    config = tmp_path / "deliver.toml"
    config.write_text('spam_on_failure = "deliver"\n')
    assert load_settings(config, environ={}).spam_on_failure is SpamOnFailure.DELIVER
    config.write_text('spam_on_failure = "accept"\n')
    refused = 'spam_on_failure: \'accept\' is not allowed; use "tempfail" or "deliver"'
    with pytest.raises(ConfigError, match=refused):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match="spam_on_failure: 'Deliver' is not allowed"):
        load_settings(environ={"SEKISHO_SPAM_ON_FAILURE": "Deliver"})
