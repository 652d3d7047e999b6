"""Facilities in Debian's headless Chromium against a real server: the public page and its form
at phone size (375 x 667), the technician view at phone size - offline and back - and the
registry and handling pages on a desktop. No page may trip the Content-Security-Policy."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from fleetkit import CLI, PASSWORD, bearer, make_user
from facilitykit import jpeg
from fleet.facilities import workorders
from fleet.store.db import write_tx

PHONE = {"width": 375, "height": 667}



def watched(context):
    """A page of context whose console errors (CSP refusals included) are kept in page.problems."""
    page = context.new_page()
    page.problems = []
    # (a 404 page - an unknown code - logs "Failed to load resource": that one is expected)
    page.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text
            and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    return page


def login(page, base, user):
    page.goto(base + "/login")
    page.fill("input[name=username]", user["username"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def fits(page):
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def lamp(live_server, db):
    with httpx.Client(base_url=live_server) as http:
        made = http.post("/api/v1/assets", json={"type": "streetlight", "name": "Lamp 12", "address": "Xialu Road 12",
                                                 "area": "north", "maintainer": "Xialu Lighting Co", "lat": 30.6,
                                                 "lon": 114.3}, headers=bearer(db, "admin")).json()
    return made


def test_a_citizen_reports_from_the_phone_and_follows_it(browser, live_server, lamp, tmp_path):
    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True)
    page = watched(context)
    page.goto(live_server + "/a/" + lamp["label"].lower())
    expect(page.locator("#status")).to_have_text("Working")
    expect(page.locator("#maintainer")).to_have_text("Xialu Lighting Co")
    assert fits(page)
    photo = tmp_path / "lamp.jpg"
    photo.write_bytes(jpeg(800, 600))
    page.select_option("select[name=service_code]", "light_out")
    page.fill("textarea[name=description]", "Dark since Monday <script>alert(1)</script>")
    page.set_input_files("input[name=media]", str(photo))
    page.click("#report button[type=submit]")
    expect(page).to_have_url(re.compile(r"/r/[\w-]+$"))
    expect(page.locator("#report-status")).to_have_text(re.compile("waiting for a maintenance team|A maintenance team"))
    expect(page.locator("#description")).to_have_text("Dark since Monday <script>alert(1)</script>")   # as text
    assert fits(page)
    page.goto(live_server + "/a/" + lamp["code"])
    expect(page.locator("#status")).to_have_text(re.compile("Fault reported, .* since"))
    page.goto(live_server + "/a/K7QM4XPZ")
    expect(page.locator("h1")).to_have_text("We do not know this code")
    page.fill("#find input[name=code]", lamp["label"])
    page.click("#find button")
    expect(page.locator("#code")).to_have_text(lamp["label"])
    assert page.problems == []


def test_the_technician_handles_it_on_the_phone_even_offline(browser, live_server, lamp, db):
    tech = make_user(db, "technician")
    with write_tx(db):
        workorders.save_team(workorders.LocalTx(db), CLI, "lights-north", None, None, [tech["username"]])
        workorders.set_route(workorders.LocalTx(db), CLI, "streetlight", "north", "lights-north")
    httpx.post(live_server + "/open311/v2/requests.json", data={"service_code": "light_out", "address_id": lamp["code"]})
    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True)
    page = watched(context)
    login(page, live_server, tech)
    page.goto(live_server + "/tech")
    card = page.locator(".wo")
    expect(card).to_have_count(1)
    expect(card.locator(".state")).to_have_text("Assigned")
    assert fits(page)

    context.set_offline(True)                             # in a basement: no connection
    card.locator("button.start").click()
    expect(page.locator("#queue")).to_have_text("1 update waiting to be sent")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#queue")).to_be_hidden()
    expect(card.locator(".state")).to_have_text(re.compile("In progress"))
    wo = db.conn.execute("SELECT id, state FROM work_orders").fetchone()
    assert wo[1] == "in_progress"
    assert db.conn.execute("SELECT count(*) FROM work_order_events WHERE action = 'start'").fetchone()[0] == 1

    card.locator("button.resolve").click()
    card.locator("textarea.note").fill("Replaced the lamp")
    card.locator("button.save").click()
    expect(page.locator(".wo")).to_have_count(0)           # no longer open
    assert db.conn.execute("SELECT state, resolution_note FROM work_orders").fetchone() == ("resolved", "Replaced the lamp")

    page.fill("#find input[name=code]", lamp["label"])     # typing the label's code
    page.click("#find button")
    expect(page.locator("h1")).to_have_text("Work orders of %s" % lamp["code"])
    public = watched(context)
    public.goto(live_server + "/a/" + lamp["code"])
    expect(public.locator("#status")).to_have_text(re.compile(r"^Working \(repaired on"))
    assert page.problems == [] and public.problems == []


def test_registry_and_handling_on_a_desktop(browser, live_server, lamp, db):
    admin = make_user(db, "admin")
    httpx.post(live_server + "/open311/v2/requests.json", data={"service_code": "light_out", "address_id": lamp["code"]})
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = watched(context)
    login(page, live_server, admin)
    page.click("#nav-assets")
    expect(page.locator("#rows tr")).to_have_count(1)
    expect(page.locator("#rows tr td").nth(1)).to_have_text("路灯")
    page.click("#nav-tracking")
    expect(page.locator("h1")).to_have_text("故障处置跟踪")
    expect(page.locator("#rows tr td").nth(1)).to_have_text("路灯不亮")
    page.click("#nav-tech")
    expect(page.locator(".wo")).to_have_count(0)            # an admin in no team: no orders of their own
    assert page.problems == []
