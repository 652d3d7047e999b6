"""CSRF against a real server: a change made with a login cookie must carry an Origin (or
Referer) of this host - logins and logouts too; API-token requests and devices are unaffected."""

import contextlib
import time

import httpx
import pytest

from fleetkit import PASSWORD, bearer, count, enroll, make_user


def alarm_event(seq, ref):
    return {"seq": seq, "t": int(time.time()), "type": "alarm", "data": {"ref": ref, "kind": "call"}}


@contextlib.contextmanager
def logged_in(base_url, username):
    """A client holding a session cookie of username (logged in the way the login page does)."""
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD},
                             headers={"Origin": base_url})
        assert response.status_code == 200, response.text
        assert "fleet_session" in http.cookies
        yield http


def assert_cross_site(response):
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "cross_site"
    assert "API token" in response.json()["error"]["message"]


def test_cookie_writes_without_origin_or_referer_are_refused(live_server, db):
    admin = make_user(db, "admin")
    with logged_in(live_server, admin["username"]) as http:
        button = enroll(http, db)
        button.events([alarm_event(1, "a-1")])
        [alarm] = http.get("/api/v1/alarms").json()            # reading needs no Origin

        assert_cross_site(http.post("/api/v1/alarms/%d/acknowledge" % alarm["id"]))
        assert_cross_site(http.post("/api/v1/users", json={"username": "mallory", "role": "admin",
                                                           "password": "x" * 12}))
        assert_cross_site(http.post("/api/v1/users", json={"username": "mallory", "role": "admin",
                                                           "password": "x" * 12},
                                    headers={"Origin": "https://evil.example"}))
        assert_cross_site(http.post("/api/v1/users", json={"username": "mallory", "role": "admin",
                                                           "password": "x" * 12}, headers={"Origin": "null"}))
        assert http.get("/api/v1/alarms/%d" % alarm["id"]).json()["state"] == "received"
        assert count(db, "users", "username = 'mallory'") == 0

        # The same requests from our own pages (Origin, or Referer alone) go through.
        ack = http.post("/api/v1/alarms/%d/acknowledge" % alarm["id"], headers={"Origin": live_server})
        assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
        created = http.post("/api/v1/users", json={"username": "carla", "role": "caregiver", "password": "x" * 12},
                            headers={"Referer": live_server + "/residents"})
        assert created.status_code == 201, created.text


def test_login_and_logout_need_our_origin(live_server, db):
    user = make_user(db, "caregiver")
    with httpx.Client(base_url=live_server, timeout=10) as http:
        form = {"username": user["username"], "password": PASSWORD}
        assert_cross_site(http.post("/login", data=form))
        assert_cross_site(http.post("/login", data=form, headers={"Origin": "http://evil.example"}))
        assert_cross_site(http.post("/api/v1/auth/login", json=form))
        assert "fleet_session" not in http.cookies                # nothing was logged in
        page = http.post("/login", data=form, headers={"Origin": live_server})
        assert page.status_code == 303 and "fleet_session" in http.cookies

        assert_cross_site(http.post("/logout"))
        assert_cross_site(http.post("/api/v1/auth/logout"))
        assert http.get("/api/v1/auth/me").status_code == 200    # still logged in
        assert http.post("/logout", headers={"Origin": live_server}).status_code == 303
        assert http.get("/api/v1/auth/me").status_code == 401


def test_api_tokens_and_devices_need_no_origin(live_server, db):
    admin = bearer(db, "admin")
    with httpx.Client(base_url=live_server, timeout=10) as http:
        created = http.post("/api/v1/users", json={"username": "tom", "role": "technician", "password": "x" * 12},
                            headers=admin)
        assert created.status_code == 201, created.text
        button = enroll(http, db)                               # unsigned enroll, then signed requests
        assert button.hello().status_code == 200
        assert button.events([alarm_event(1, "a-1")]).status_code == 200
        # A stray cookie next to a valid token: the token decides, no Origin needed.
        http.cookies.set("fleet_session", "fs_not-a-session")
        assert http.post("/api/v1/users", json={"username": "tim", "role": "technician", "password": "x" * 12},
                         headers=admin).status_code == 201


@pytest.mark.parametrize("method, path", [("PUT", "/api/v1/users/1/password"), ("PATCH", "/api/v1/users/1"),
                                          ("DELETE", "/api/v1/tokens/1")])
def test_every_changing_method_is_guarded(live_server, db, method, path):
    admin = make_user(db, "admin")
    with logged_in(live_server, admin["username"]) as http:
        assert_cross_site(http.request(method, path, json={}))
