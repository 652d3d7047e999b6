"""The web pages: login form, live device list behind the login, logout."""

from fleetkit import PASSWORD, make_user

OURS = {"Origin": "http://testserver"}    # what a browser on our own pages sends


def test_device_list_needs_a_login(client):
    response = client.get("/devices", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).headers["location"] == "/devices"


def test_login_form_then_live_list(client, db):
    user = make_user(db, "caregiver")
    page = client.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    wrong = client.post("/login", data={"username": user["username"], "password": "nope"}, headers=OURS)
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text      # no Accept-Language: Chinese
    response = client.post("/login", data={"username": user["username"], "password": PASSWORD},
                           headers=OURS, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/devices"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/devices")
    assert page.status_code == 200
    assert user["username"] in page.text and "/static/devices.js" in page.text
    assert client.get("/api/v1/auth/me").json() == {"username": user["username"], "role": "caregiver",
                                                     "via": "session"}
    assert "EventSource" in client.get("/static/devices.js").text
    client.post("/logout", headers=OURS)
    assert client.get("/devices", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/auth/me").status_code == 401


def test_cookie_session_refuses_cross_site_writes(client, db):
    admin = make_user(db, "admin")
    client.post("/api/v1/auth/login", json={"username": admin["username"], "password": PASSWORD}, headers=OURS)
    evil = client.post("/api/v1/enrollment-tokens", json={}, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    same = client.post("/api/v1/enrollment-tokens", json={}, headers={"Origin": "http://testserver"})
    assert same.status_code == 201


def test_failed_logins_are_audited(client, db):
    from fleet.domain import audit
    client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever it is"}, headers=OURS)
    [entry] = audit.entries(db, action="session.refused")
    assert entry["target"] == "ghost"


def test_openapi_docs_are_on(client):
    assert client.get("/docs").status_code == 200
    assert "/api/v1/device/events" in client.get("/openapi.json").json()["paths"]


def test_admin_errors_are_json_with_server_time(client, admin_headers):
    for response, status, code in (
            (client.get("/api/v1/nothing-here", headers=admin_headers), 404, "not_found"),
            (client.delete("/api/v1/devices", headers=admin_headers), 405, "method_not_allowed"),
            (client.get("/api/v1/devices?limit=0", headers=admin_headers), 422, "invalid"),
            (client.post("/api/v1/users", json={"username": "x"}, headers=admin_headers), 422, "invalid"),
            (client.get("/api/v1/devices/cb-none", headers=admin_headers), 404, "not_found"),
            (client.get("/api/v1/devices"), 401, "unauthorized")):
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
        assert float(response.headers["x-server-time"]) > 0
