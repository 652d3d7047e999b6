"""The provisioning page in Debian's headless Chromium: a technician opens it from the page bar
and sees the board that waits for its first hello (and why), the failure with the fix the tool
printed, and their runs - not another technician's; in Chinese through the language switch; the
page makes no request off this host and breaks no rule of the CSP (no inline script or style)."""

import time

import httpx
import pytest
from playwright.sync_api import expect

from fleet.core import clock
from fleet.domain import enrollment
from fleetkit import CLI, PASSWORD, credentials_headers, make_user




def report(url, headers, **kw):
    body = {"started_at": clock.iso(time.time() - 120), "ok": True, "port": "/dev/ttyUSB0", "role": "call_button",
            "board": "esp32-devkitc", "site": "block-7", "firmware": "micropython v1.29.0", "seconds": 38.0}
    body.update(kw)
    r = httpx.post(url + "/api/v1/provisioning/runs", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def runs(live_server, db):
    tech, other = make_user(db, "technician", "dana"), make_user(db, "technician", "erik")
    h = credentials_headers(db, tech)
    [(tok, _token)] = enrollment.mint_tokens(db, CLI, 3600, 1, role="call_button")
    report(live_server, h, mac="24:0a:c4:00:01:01", hw_id="240ac4000101", device_id="cb-00000001aa")
    report(live_server, h, ok=False, mac="24:0a:c4:00:01:02", hw_id="240ac4000102", token_id=tok["id"], stage="hello",
           code="no_hello", error="no hello from the device 240ac4000102 within 120 s (not enrolled)",
           fix="Check the Wi-Fi name and password, and that the access point is in range.")
    report(live_server, h, ok=False, mac="24:0a:c4:00:01:03", hw_id="240ac4000103", stage="write",
           code="connection_lost", error="lost the board on /dev/ttyUSB1 while write (connection lost)",
           fix="Plug it in again and run the same command: it continues.")
    report(live_server, credentials_headers(db, other), mac="24:0a:c4:00:02:01", hw_id="240ac4000201",
           site="depot-9")
    return live_server, tech


def login(page, url, user):
    page.goto(url)
    page.fill("input[name=username]", user["username"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_technician_sees_waiting_boards_failures_and_runs_in_both_languages(browser, runs):
    url, tech = runs
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    foreign, errors = [], []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(url) else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, url + "/provisioning", tech)
    page.click("#nav-provisioning")
    expect(page.locator("h1")).to_have_text("Provisioning")
    expect(page.locator("#summary")).to_contain_text("Awaiting first hello: 1")
    waiting = page.locator("#awaiting tbody tr")
    expect(waiting).to_have_count(1)
    expect(waiting.nth(0)).to_contain_text("24:0a:c4:00:01:02")
    expect(waiting.nth(0).locator("td.why")).to_contain_text("check the Wi-Fi name and password")
    failures = page.locator("#failures tbody tr")
    expect(failures).to_have_count(2)                      # the silent board and the unplugged one
    expect(page.locator("#failures")).to_contain_text("Fix: Plug it in again and run the same command")
    rows = page.locator("#runs tbody tr")
    expect(rows).to_have_count(3)                          # dana's three runs; erik's is not hers
    expect(page.locator("#runs")).not_to_contain_text("depot-9")
    expect(page.locator("#runs")).to_contain_text("cb-00000001aa")
    expect(page.locator("#runs")).to_contain_text("call button")
    page.click("#langs a[data-lang=zh_CN]")
    expect(page.locator("h1")).to_have_text("设备开通")
    expect(page.locator("#awaiting td.why")).to_contain_text("请检查板上的 Wi-Fi 名称和密码")
    expect(page.locator("#runs")).to_contain_text("呼叫器")
    expect(page.locator("#failures")).to_contain_text("解决办法：")
    assert foreign == [] and errors == [], (foreign, errors)
    ctx.close()


def test_admin_sees_every_technician_and_narrows_to_one(browser, runs, db):
    url, _tech = runs
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    login(page, url + "/provisioning", make_user(db, "admin"))
    page.goto(url + "/provisioning")
    expect(page.locator("#runs tbody tr")).to_have_count(4)
    expect(page.locator("#runs thead")).to_contain_text("Technician")
    page.fill("input[name=technician]", "erik")
    page.click("form.filter button")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    expect(page.locator("#runs")).to_contain_text("depot-9")
    ctx.close()


def test_a_caregiver_is_shown_the_forbidden_page(browser, live_server, db):
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    login(page, live_server + "/provisioning", make_user(db, "caregiver"))
    r = page.goto(live_server + "/provisioning")
    assert r.status == 403
    expect(page.locator("#nav-provisioning")).to_have_count(0)
    ctx.close()
