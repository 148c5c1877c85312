"""Login sites: each site's prefix serves its own domains; another site's address is sent
to its own login page by name; a session does not carry over from one site to another."""

from __future__ import annotations

from flask.testing import FlaskClient

from sekisho.store import accounts
from sekisho.store.db import Store
from tests.webclient import csrf

OTHER_SITE = "/other"


def add_other_site(store: Store) -> None:
    with store.transaction() as session:
        accounts.add_domain(
            session,
            "other.example",
            "other-isp",
            "smtp.other.example",
            "pop.other.example",
            url_prefix=OTHER_SITE,
            site_host="support.other.example",
        )
        accounts.add_account(session, "ichiro@other.example", "ichiro123")


def log_in(client: FlaskClient, prefix: str, address: str, password: str) -> tuple[int, str]:
    page = client.get(f"{prefix}/login").get_data(as_text=True)
    answer = client.post(
        f"{prefix}/login",
        data={"address": address, "password": password, "csrf_token": csrf(page)},
    )
    return answer.status_code, answer.headers.get("Location", "") or answer.get_data(as_text=True)


def test_each_site_serves_its_own_domains(client: FlaskClient, store: Store) -> None:
    add_other_site(store)
    status, where = log_in(client, "/supw", "taro@example.jp", "taro1234")
    assert (status, where) == (302, "/supw/")
    overview = client.get("/supw/").get_data(as_text=True)
    assert "smtp.example.jp" in overview
    assert 'href="/supw/quarantine/"' in overview  # links stay on the site


def test_another_sites_address_is_sent_to_its_own_page(client: FlaskClient, store: Store) -> None:
    add_other_site(store)
    status, page = log_in(client, "/supw", "ichiro@other.example", "ichiro123")
    assert status == 200
    assert (
        "ichiro@other.example は別のログインページで管理されています。"
        "https://support.other.example/other/login からログインしてください。"
    ) in page
    status, where = log_in(client, OTHER_SITE, "ichiro@other.example", "ichiro123")
    assert (status, where) == (302, "/other/")


def test_a_session_does_not_carry_over_to_another_site(client: FlaskClient, store: Store) -> None:
    add_other_site(store)
    log_in(client, "/supw", "taro@example.jp", "taro1234")
    elsewhere = client.get(f"{OTHER_SITE}/")
    assert elsewhere.status_code == 302
    assert elsewhere.headers["Location"].startswith(f"{OTHER_SITE}/login")
    assert client.get("/supw/").status_code == 302  # that session was ended


def test_the_root_serves_every_domain(client: FlaskClient, store: Store) -> None:
    add_other_site(store)
    status, where = log_in(client, "", "ichiro@other.example", "ichiro123")
    assert (status, where) == (302, "/")
