"""The crew's route and the bins map in Debian's headless Chromium, on a phone-sized screen: a
technician logs in, opens the route, sees the stops in order and the map drawn without tiles,
marks a stop collected and another could-not-access; the page makes no request off this host
and runs no inline script (CSP); the bins page shows the bins coloured by fill in Chinese, and
why a bin is on the plan or left out in Chinese words; with a tile server set, its tiles go under
the map (and only then does the page load anything from another host)."""

import dataclasses
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from hil_tests.polling import wait_until

from binkit import fill
from fleetkit import PASSWORD, bearer, enroll, make_user
from fleet.errors import Invalid
from fleet.main import create_app
from fleet.server import FleetServer, uvicorn_config

PHONE = {"width": 390, "height": 844}



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


def test_bins_map_and_the_plan_reasons_in_chinese(browser, planned, db):
    url, _plan = planned
    admin = bearer(db, "admin")
    with httpx.Client(base_url=url, timeout=60) as http:          # a full bin nobody can route
        dev = enroll(http, db, role="smart_bin")
        assert http.post("/api/v1/bins", headers=admin, json={"id": "NOLOC", "capacity_l": 240, "waste_type": "glass",
                                                              "depth_mm": 1000, "device_id": dev.id}).status_code == 201
        assert dev.events([fill(1, 95)]).status_code == 200
        plan = http.post("/api/v1/waste/plans", headers=admin, json={"trucks": 1}).json()
    assert [x["code"] for x in plan["summary"]["left"]] == ["no_location"]
    ctx = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = ctx.new_page()
    login(page, url + "/bins", make_user(db, "admin"))
    page.click("#nav-bins")
    expect(page.locator("h1")).to_have_text("垃圾桶")
    expect(page.locator("#map circle.fill-high")).to_have_count(3)
    expect(page.locator("#rows tr")).to_have_count(4)
    expect(page.locator("#plan-summary")).to_contain_text("最新计划")
    expect(page.locator("#left-out li")).to_have_text(["NOLOC: 没有位置：请填写经纬度以便排入路线"])
    page.click("#nav-crew")
    expect(page.locator("#stops li .why").first).to_have_text(re.compile(r"^已达 8[5-7] %（阈值 80 %）$"))
    expect(page.locator("#plan-info")).to_contain_text("1 个垃圾桶未排入：NOLOC (没有位置：请填写经纬度以便排入路线)")
    ctx.close()


def one_pixel_png():
    def chunk(kind, data):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", (1).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
            + chunk(b"IDAT", zlib.compress(b"\x00\xc8\xd8\xc8")) + chunk(b"IEND", b""))


@pytest.fixture
def tile_server():
    """A tile server on loopback (any /z/x/y.png is a grey pixel); its requests are kept."""
    seen, png = [], one_pixel_png()

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1], seen
    server.shutdown()


def test_a_configured_tile_server_draws_under_the_route(browser, planned, db, settings, tile_server):
    _url, plan = planned
    tiles, seen = tile_server
    app = create_app(dataclasses.replace(settings, map_tile_url=tiles + "/{z}/{x}/{y}.png",
                                         map_tile_attribution="tiles: test server"))
    server = FleetServer(uvicorn_config(app, settings, host="127.0.0.1", port=0, log_level="warning"),
                         app.state.fleet, freeze_gc=False)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.url, "the tiled fleet to listen", 10)
        ctx = browser.new_context(viewport=PHONE, locale="en-US")
        page = ctx.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        login(page, server.url + "/crew", make_user(db, "technician"))
        page.click("#nav-crew")
        expect(page.locator("#map circle")).to_have_count(3)
        images = page.locator("#map image.tile")
        expect(images.first).to_have_attribute("href", re.compile(re.escape(tiles) + r"/1[5-8]/\d+/\d+\.png$"))
        assert images.count() >= 4                                   # the view is covered
        wait_until(lambda: len(seen) >= images.count(), "the browser to fetch every tile (CSP allows them)", 10)
        expect(page.locator("#map text.credit")).to_have_text("tiles: test server")
        assert errors == []
        ctx.close()
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_tile_url_that_is_not_a_template_is_refused(settings):
    with pytest.raises(Invalid, match="FLEET_MAP_TILE_URL"):
        create_app(dataclasses.replace(settings, map_tile_url="https://tiles.example.org/map.png"))
