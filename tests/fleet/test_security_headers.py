"""Security headers on every page and API answer of a real server, no-store on personal data, and
pages that still work in Chromium under the Content-Security-Policy (no violation reported)."""

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from fleetkit import PASSWORD, bearer, enroll, make_user, mint, wait_for

FLEET = Path(__file__).resolve().parents[2] / "fleet"
TEMPLATES = sorted(FLEET.glob("**/templates/*.html"))      # the core's and every capability's
CHROMIUM = "/usr/bin/chromium"


def assert_protected(response):
    h = response.headers
    csp = h["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin"


def test_every_kind_of_answer_carries_the_headers(live_server, db):
    admin = bearer(db, "admin")
    with httpx.Client(base_url=live_server, timeout=10) as http:
        device = enroll(http, db)
        answers = {
            "login page": http.get("/login"),
            "redirect": http.get("/", follow_redirects=False),
            "health": http.get("/api/v1/health"),
            "401": http.get("/api/v1/devices"),
            "404": http.get("/api/v1/nothing-here", headers=admin),
            "device hello": device.hello(),
            "device refusal": device.request("POST", "/api/v1/device/events", b"{", secret="00" * 32),
            "static": http.get("/static/care/console.js"),
        }
    for what, response in answers.items():
        assert response.status_code < 500, what
        assert_protected(response)
    assert "no-store" not in answers["static"].headers.get("cache-control", ""), "static files may be cached"


@pytest.mark.parametrize("path", ["/api/v1/residents", "/api/v1/alarms", "/api/v1/users", "/api/v1/auth/me",
                                  "/api/v1/tokens", "/api/v1/audit", "/api/v1/export/devices.csv",
                                  "/api/v1/export/events.csv", "/api/v1/devices", "/console", "/residents"])
def test_personal_data_is_never_stored_by_caches(live_server, db, path):
    admin = make_user(db, "admin")
    with httpx.Client(base_url=live_server, timeout=10) as http:
        http.post("/api/v1/auth/login", json={"username": admin["username"], "password": PASSWORD},
                  headers={"Origin": live_server})
        response = http.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert_protected(response)


def test_enrollment_answer_with_a_secret_is_not_cached(live_server, db):
    with httpx.Client(base_url=live_server, timeout=10) as http:
        response = http.post("/api/v1/device/enroll", json={"token": mint(db), "hw_id": "a4cf12345678",
                                                            "role": "call_button", "board": "esp32-devkitc"})
        assert response.status_code == 201 and response.headers["cache-control"] == "no-store"


def test_templates_have_no_inline_script_or_style():
    for template in TEMPLATES:
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, "%s: inline <script> (the CSP refuses it): %s" % (template.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), "%s: inline event handler" % template.name
        assert not re.search(r"\sstyle\s*=", text), "%s: inline style attribute" % template.name
        assert "<style" not in text, template.name


@pytest.fixture
def browser_page():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.violations = []
            page.on("console", lambda msg: page.violations.append(msg.text)
                    if "Content Security Policy" in msg.text else None)
            yield page
        finally:
            browser.close()


def test_pages_work_in_chromium_under_the_policy(browser_page, live_server, db):
    page = browser_page
    admin = make_user(db, "admin")
    page.goto(live_server + "/login")
    page.fill("input[name=username]", admin["username"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live")).to_have_text("live")                  # devices.js ran, its stream is open
    page.goto(live_server + "/console")
    expect(page.locator("#live")).to_have_text("live")                  # console.js too
    page.goto(live_server + "/residents")
    page.fill("#add input[name=name]", "Li Na")
    page.click("#add button[type=submit]")                              # residents.js posts with fetch
    expect(page.locator("#rows")).to_contain_text("Li Na")
    page.click("form[action='/logout'] button")                          # a form post: Origin sent
    expect(page.locator("input[name=password]")).to_be_visible()
    assert page.violations == []
    # A page of ours cannot be framed: the browser refuses, and says why.
    page.set_content('<iframe src="%s/login"></iframe>' % live_server)
    wait_for(lambda: any("frame-ancestors" in v for v in page.violations), what="framing refused")
