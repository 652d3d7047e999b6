"""The update pages in Debian's headless Chromium under the CSP: an admin uploads a signed release
through the form, starts a rollout to the devices with a tag (the page shows its target), watches a device's progress arrive without a reload, pauses it
(the history says who), and the pages read in Chinese too."""

import re

import httpx
from playwright.sync_api import expect

from fleet.domain import tags
from fleet.ota import releases
from fleetkit import PASSWORD, enroll, make_user
from otakit import ADMIN, Board, firmware_release




def open_page(browser, locale):
    page = browser.new_page(locale=locale)
    page.violations = []
    page.on("console", lambda msg: page.violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    return page


def login(page, url, user):
    page.goto(url + "/login")
    page.fill("input[name=username]", user["username"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_upload_start_follow_and_pause_a_rollout(browser, live_server, db, keys, tmp_path):
    releases.trust_key(db, ADMIN, keys["a"][1])
    folder = firmware_release(tmp_path, keys["a"][0], "2.0.0")
    admin = make_user(db, "admin")
    page = open_page(browser, "en-US")
    login(page, live_server, admin)
    page.click("#nav-ota")
    expect(page.locator("h1")).to_have_text("Updates")
    expect(page.locator("#live")).to_have_text("live")
    page.set_input_files("#upload input[name=envelope]", str(folder / "manifest.signed.json"))
    page.set_input_files("#upload input[name=artifact]", str(folder / "artifact.bin"))
    page.click("#upload button[type=submit]")
    expect(page.locator("#toast")).to_have_text("Release firmware-2.0.0 uploaded.")
    expect(page.locator("#release-firmware-2\\.0\\.0")).to_contain_text(keys["a"][2])

    with httpx.Client(base_url=live_server, timeout=30) as http:
        board = Board(http, enroll(http, db))
        board.hello()
        untagged = Board(http, enroll(http, db))
        untagged.hello()
        tags.set_tags(db, ADMIN, board.id, ["pilot"])
        page.fill("#start input[name=percents]", "100")
        page.fill("#start input[name=tags]", "pilot")
        page.click("#start button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Rollout")
        expect(page.locator("#state")).to_have_text("running")
        expect(page.locator("#target")).to_have_text("Target: tags (all of them) pilot")
        row = page.locator("#device-" + board.id)
        expect(row).to_contain_text("offered")
        offer = board.offer()
        board.send("downloading", offer, progress=40)
        expect(row).to_contain_text("downloading")               # live, no reload
        expect(row).to_contain_text("40%")
        page.click("#pause")
        expect(page.locator("#state")).to_have_text("paused")
        expect(page.locator("#history")).to_contain_text(re.compile(r"paused — user:" + admin["username"]))
        expect(page.locator("#resume")).to_be_enabled()
        expect(page.locator("#pause")).to_be_disabled()
        expect(page.locator("#device-" + untagged.id)).to_have_count(0)     # not tagged: not in the rollout
    assert page.violations == []


def test_the_pages_read_in_chinese(browser, live_server, db):
    tech = make_user(db, "technician")
    page = open_page(browser, "zh-CN")
    login(page, live_server, tech)
    page.goto(live_server + "/ota")
    expect(page.locator("h1")).to_have_text("固件更新")
    expect(page.locator("#rollouts")).to_contain_text("还没有推送。")
    expect(page.locator("#start")).to_have_count(0)              # a technician follows, never starts
    assert page.violations == []
