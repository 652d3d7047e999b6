"""The device list in a real headless Chromium (Debian's): log in, watch a device come online
and get revoked without reloading the page."""

import re
import shutil

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from fleetkit import PASSWORD, enroll, heartbeat, make_user

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def page():
    assert CHROMIUM, "Debian's chromium must be installed (make browser)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser.new_page(locale="en-US")          # the English texts below (zh-CN: test_i18n_browser.py)
        browser.close()


def test_live_device_list(page, live_server, db, admin_headers):
    user = make_user(db, "caregiver")
    page.goto(live_server + "/devices")
    expect(page.locator("h1")).to_have_text("Log in")
    page.fill("input[name=username]", user["username"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#live")).to_have_text("live")
    with httpx.Client(base_url=live_server) as http:
        device = enroll(http, db, role="smart_bin")
        row = page.locator("#dev-" + device.id)
        expect(row).to_contain_text("never seen")             # appears without a reload
        device.hello()
        expect(row).to_have_class(re.compile(r"\bs-online\b"))
        expect(row).to_contain_text("1.29.0 / 0.3.0")
        expect(page.locator("#n-online")).to_have_text("1")
        http.put("/api/v1/devices/%s/tags/floor-3" % device.id, headers=admin_headers)
        expect(row.locator("td.tags .tag")).to_have_text(["floor-3"])     # a tag shows live
        page.fill("#search", "floor-3")
        expect(page.locator("#dev-" + device.id)).to_have_count(1)        # the filter finds tags
        page.fill("#search", "")
        device.events([heartbeat(1)])
        http.post("/api/v1/devices/%s/revoke" % device.id, headers=admin_headers)
        expect(row).to_have_class(re.compile(r"\bs-revoked\b"))
    page.click("button[data-filter=online]")
    expect(page.locator("#dev-" + device.id)).to_have_count(0)


def test_api_docs_render_with_no_network_but_loopback(live_server):
    # Every host name but loopback fails to resolve, as on a closed network: Swagger UI must come
    # from the fleet itself, not a CDN.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            page = browser.new_page()
            requested = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(live_server + "/docs")
            operations = page.locator(".opblock-summary-path")
            expect(operations.first).to_be_visible(timeout=15000)
            paths = operations.all_inner_texts()
            assert any("/api/v1/health" in path for path in paths), paths
            assert len(paths) > 10
            elsewhere = [url for url in requested if not url.startswith(live_server)]
            assert elsewhere == []
        finally:
            browser.close()
