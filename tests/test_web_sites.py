"""Login sites: each site's prefix serves its own domains; another site's address is sent
to its own login page by name; a session does not carry over from one site to another;
two sites at one prefix (the guide's /supw) are told apart by their host names."""

from __future__ import annotations

from flask.testing import FlaskClient

from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.models import LoginSite
from sekisho.webui.sites import SiteAddress, site_for
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


def log_in(
    client: FlaskClient, prefix: str, address: str, password: str, host: str | None = None
) -> tuple[int, str]:
    on_host = {"base_url": f"http://{host}"} if host else {}
    page = client.get(f"{prefix}/login", **on_host).get_data(as_text=True)
    answer = client.post(
        f"{prefix}/login",
        data={"address": address, "password": password, "csrf_token": csrf(page)},
        **on_host,
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


MS246 = "support.ms246.example"
MGL = "support.mgl.example"


def two_sites_at_supw(store: Store) -> None:
    """The guide's setup: both login sites at /supw, each on its own host."""
    with store.transaction() as session:
        session.query(LoginSite).filter_by(name="ms246").one().host_name = MS246
        accounts.add_domain(
            session,
            "mgl.example",
            "mgl",
            "smtp.mgl.example",
            "pop.mgl.example",
            url_prefix="/supw",
            site_host=MGL,
        )
        accounts.add_account(session, "ichiro@mgl.example", "ichiro123")


def test_two_sites_at_one_prefix_are_told_apart_by_host(client: FlaskClient, store: Store) -> None:
    two_sites_at_supw(store)
    status, page = log_in(client, "/supw", "ichiro@mgl.example", "ichiro123", host=MS246)
    assert status == 200
    assert f"https://{MGL}/supw/login からログインしてください。" in page
    status, page = log_in(client, "/supw", "taro@example.jp", "taro1234", host=MGL)
    assert f"https://{MS246}/supw/login からログインしてください。" in page
    assert log_in(client, "/supw", "ichiro@mgl.example", "ichiro123", host=MGL) == (302, "/supw/")
    overview = client.get("/supw/", base_url=f"http://{MGL}").get_data(as_text=True)
    assert "smtp.mgl.example" in overview
    # Another host at the shared prefix names no site: it serves every domain.
    assert log_in(client, "/supw", "taro@example.jp", "taro1234", host="10.0.0.5") == (
        302,
        "/supw/",
    )


def test_a_request_belongs_to_the_host_named_site_then_the_longest_prefix() -> None:
    sites = [
        SiteAddress("ms246", MS246, "/supw"),
        SiteAddress("mgl", MGL, "/supw"),
        SiteAddress("other", "", "/other"),
        SiteAddress("whole-host", "webmail.example", ""),
    ]
    assert site_for(MGL, "/supw/login", sites) == sites[1]
    assert site_for(MS246, "/supw", sites) == sites[0]
    assert site_for("localhost", "/supw/login", sites) == SiteAddress("", "", "/supw")
    assert site_for(MGL, "/other/login", sites) == sites[2]
    assert site_for("webmail.example", "/login", sites) == sites[3]
    assert site_for("webmail.example", "/other/login", sites) == sites[2]  # the longer prefix
    assert site_for("localhost", "/login", sites) is None
    assert site_for(MGL, "/supwx/login", sites) is None
