"""A page that is not there, a screen opened the wrong way, an error on our side and an
expired form: each answers in the site's look and the customer's language, says what
happened, and links back."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from sekisho.store.db import Store
from tests.test_web_lists import saved
from tests.webclient import login

SITE_LOOK = "<h1>"  # the site's header and title bar (base.html), not Werkzeug's page
BACK_HOME = '<a href="/">'


def test_a_page_that_is_not_there(client: FlaskClient) -> None:
    login(client)
    response = client.get("/no/such/page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<h1>ページが見つかりません</h1>" in page
    assert "お探しのページは存在しないか、すでに削除されています。" in page
    assert "メールアカウント情報参照へ戻る" in page
    assert "Not Found" not in page
    english = client.get("/no/such/page?lang=en").get_data(as_text=True)
    assert "<h1>Page not found</h1>" in english
    assert "Back to the mail account information" in english


def test_a_confirmation_screen_opened_from_the_address_bar(client: FlaskClient) -> None:
    login(client)
    response = client.get("/reject/from/confirm", headers={"Referer": "http://localhost/reject/"})
    page = response.get_data(as_text=True)
    assert response.status_code == 405
    assert "<h1>この画面は直接開くことができません</h1>" in page
    assert "前の画面からやり直してください。" in page
    assert '<a href="http://localhost/reject/">前の画面へ戻る</a>' in page
    assert "Method Not Allowed" not in page


def test_an_error_on_our_side(app: Flask, client: FlaskClient) -> None:
    @app.route("/broken")
    def broken_view() -> str:
        raise RuntimeError("a bug")

    response = client.get("/broken", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "<h1>An error occurred</h1>" in page
    assert "Please try again in a few minutes." in page
    assert BACK_HOME in page
    assert "Internal Server Error" not in page


def test_an_expired_form_says_so_and_links_back_to_it(client: FlaskClient, store: Store) -> None:
    login(client)
    form = "http://localhost/reject/from/new"
    response = client.post(
        "/reject/from/confirm",
        data={"entries": "bad.example", "token": "x", "csrf_token": "expired"},
        headers={"Referer": form},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<h1>画面の有効期限切れ</h1>" in page
    assert "画面の有効期限が切れたため、何も変更されていません。もう一度お試しください。" in page
    assert f'<a href="{form}">前の画面へ戻る</a>' in page
    assert "Bad Request" not in page
    assert saved(store) == []


def test_a_link_back_never_leaves_the_site(client: FlaskClient) -> None:
    login(client)
    page = client.post(
        "/reject/from/confirm",
        data={"csrf_token": "expired"},
        headers={"Referer": "https://evil.example/reject/from/new"},
    ).get_data(as_text=True)
    assert "evil.example" not in page
    assert "前の画面へ戻る" not in page
    assert BACK_HOME in page
    assert SITE_LOOK in page
