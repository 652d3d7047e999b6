"""The crew's route and the bins map in Debian's headless Chromium, on a phone-sized screen: a
technician logs in, opens the route, sees the stops in order and the map drawn without tiles,
marks a stop collected and another could-not-access; the page makes no request off this host
and runs no inline script (CSP); the bins page shows the bins coloured by fill in Chinese."""

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from binkit import fill
from fleetkit import PASSWORD, bearer, enroll, make_user
from fleet.main import create_app
from fleet.server import FleetServer, uvicorn_config

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def planned(live_server, db):
    """Three full bins with signed devices and a plan for one truck."""
    admin = bearer(db, "admin")
    with httpx.Client(base_url=live_server, timeout=60) as http:
        for i, (lat, lon) in enumerate([(31.235, 121.475), (31.240, 121.480), (31.232, 121.471)]):
            dev = enroll(http, db, role="smart_bin")
            assert dev.hello().status_code == 200
            r = http.post("/api/v1/bins", headers=admin, json={"id": "K%d" % i, "lat": lat, "lon": lon, "capacity_l": 240,
                                                               "waste_type": "residual", "depth_mm": 1000,
                                                               "device_id": dev.id})
            assert r.status_code == 201, r.text
            assert dev.events([fill(1, 85 + i)]).status_code == 200
        plan = http.post("/api/v1/waste/plans", headers=admin, json={"trucks": 1}).json()
    return live_server, plan


def login(page, url, user):
    page.goto(url)
    page.fill("input[name=username]", user["username"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_crew_route_on_a_phone(browser, planned, db):
    url, plan = planned
    ctx = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True)
    page = ctx.new_page()
    foreign, errors = [], []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(url) else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, url + "/crew", make_user(db, "technician"))
    page.click("#nav-crew")
    expect(page.locator("h1")).to_have_text("Route")
    stops = page.locator("#stops li")
    expect(stops).to_have_count(3)
    order = [s["bin_id"] for s in plan["stops"]]
    for i, bin_id in enumerate(order):
        expect(stops.nth(i).locator("strong")).to_have_text(bin_id)
    expect(page.locator("#map circle")).to_have_count(3)               # drawn from coordinates, no tiles
    expect(page.locator("#map polyline.route")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1   # no sideways scroll
    box = stops.nth(0).locator("button[data-state=collected]").bounding_box()
    assert box["height"] >= 44                                          # a finger, not a mouse
    stops.nth(0).locator("button[data-state=collected]").click()
    expect(stops.nth(0)).to_contain_text("collected")
    stops.nth(1).locator("button[data-state=no_access]").click()
    expect(stops.nth(1)).to_contain_text("could not access")
    expect(page.locator("#csv")).to_have_attribute("href", "/api/v1/waste/plans/%d/route.csv?truck=1" % plan["id"])
    states = {s["bin_id"]: s["state"] for s in httpx.get(url + "/api/v1/waste/plans/latest",
                                                          headers=bearer(db, "admin")).json()["stops"]}
    assert states == {order[0]: "collected", order[1]: "no_access", order[2]: "planned"}
    assert foreign == [] and errors == [], (foreign, errors)
    ctx.close()


def test_bins_map_in_chinese(browser, planned, db):
    url, _plan = planned
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = ctx.new_page()
    login(page, url + "/bins", make_user(db, "admin"))
    page.click("#nav-bins")
    expect(page.locator("h1")).to_have_text("垃圾桶")
    expect(page.locator("#map circle.fill-high")).to_have_count(3)
    expect(page.locator("#rows tr")).to_have_count(3)
    expect(page.locator("#plan-summary")).to_contain_text("最新计划")
    ctx.close()
