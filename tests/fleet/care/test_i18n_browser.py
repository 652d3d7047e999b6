"""The pages in Chinese and in English, in Debian's headless Chromium: a caregiver whose browser
asks for zh-CN (or en-US) logs in, filters the device list, answers a call raised by a signed
device request in the console, and reads every step in that language, with times in the site's
time zone (the browser's is New York's). The 中文 / English switch then holds across pages."""

import datetime
import re
import zoneinfo

import httpx
import pytest
from playwright.sync_api import expect

from fleetkit import PASSWORD, bearer, enroll, make_user

from alarmkit import Server, alarm, battery_low

SITE_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")

ZH = {"html": "zh-CN", "login": "登录", "devices": "设备", "live": "实时", "never_seen": "从未上线",
      "no_match": "没有符合筛选条件的设备。", "console": "告警台", "sound_off": "点击开启声音",
      "sound_on": "声音已开启", "call": "呼叫", "waiting": "待应答", "no_resident": "此呼叫器未绑定老人",
      "ack": "确认应答", "acknowledged": "已应答", "acked": "{who} 已于 {time} 应答",
      "toast": "已应答：呼叫器会提示老人救助正在赶来。", "battery_low": "电量低", "days": "2.60 V（约剩 30 天）",
      "residents": "老人", "footer": "页面时间均为中国时间 (GMT+08:00)。", "clock": "%H:%M:%S"}
EN = {"html": "en", "login": "Log in", "devices": "Devices", "live": "live", "never_seen": "never seen",
      "no_match": "No device matches this filter.", "console": "Alarm console", "sound_off": "Click to enable sound",
      "sound_on": "Sound on", "call": "Call", "waiting": "waiting", "no_resident": "No resident assigned to this button",
      "ack": "Acknowledge", "acknowledged": "acknowledged", "acked": "Acknowledged by {who} at {time}",
      "toast": "Acknowledged: the button shows that help is coming.", "battery_low": "Battery low",
      "days": "2.60 V (30 days left)", "residents": "Residents", "footer": "Times are shown in China Time (GMT+08:00).",
      "clock": "%I:%M:%S %p"}
LANGUAGES = {"zh-CN": (ZH, EN, "en"), "en-US": (EN, ZH, "zh_CN")}



@pytest.fixture
def server(settings, db):
    running = Server(settings).start()
    yield running
    running.stop()


def site_clock(iso, fmt):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(SITE_ZONE).strftime(fmt)


def latin_words(text, *data):
    """Words in Latin letters on a Chinese page, once the data shown as it is has been taken out."""
    for value in data:
        text = text.replace(value, " ")
    return set(re.findall(r"[A-Za-z]{2,}", text)) - {"English", "GMT", "RSSI", "dBm"}


@pytest.mark.parametrize("browser_locale", LANGUAGES)
def test_login_devices_console_acknowledge_in_the_browsers_language(browser, server, db, browser_locale):
    words, other, switch_to = LANGUAGES[browser_locale]
    carer = make_user(db, "caregiver")
    page = browser.new_context(locale=browser_locale, timezone_id="America/New_York").new_page()

    page.goto(server.url + "/devices")
    expect(page.locator("h1")).to_have_text(words["login"])
    expect(page.locator("html")).to_have_attribute("lang", words["html"])
    page.fill("input[name=username]", carer["username"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text(words["devices"])
    expect(page.locator("#live")).to_have_text(words["live"])
    expect(page.locator("footer")).to_have_text(words["footer"])

    with httpx.Client(base_url=server.url, timeout=60) as http:
        bin_ = enroll(http, db, role="smart_bin")
        row = page.locator("#dev-" + bin_.id)
        expect(row).to_contain_text(words["never_seen"])        # live, no reload, in the reader's words
        page.click("button[data-filter=online]")                 # nothing online: the filter says so
        expect(page.locator("#rows tr.empty")).to_contain_text(words["no_match"])
        page.click("#rows .clear-filter")
        expect(row).to_be_visible()

        page.click("#nav-console")
        expect(page.locator("h1")).to_have_text(words["console"])
        expect(page.locator("#live")).to_have_text(words["live"])
        expect(page.locator("#sound")).to_have_text(words["sound_off"])
        page.click("#sound")
        expect(page.locator("#sound")).to_have_text(re.compile(words["sound_on"]))

        button = enroll(http, db, site="Block 4")
        button.events([battery_low(1, 2.6, days_left=30)])
        button.events([alarm(2, "a-7", battery_v=2.98)])
        card = page.locator("#calls .alarm")
        expect(card).to_have_count(1)
        expect(card.locator(".kind")).to_have_text(words["call"])
        expect(card.locator(".state")).to_have_text(words["waiting"])
        expect(card.locator(".no-resident")).to_contain_text(words["no_resident"])
        expect(card.locator("button.ack")).to_have_text(words["ack"])
        received_at = card.locator(".since").get_attribute("data-iso")
        expect(card.locator(".received")).to_have_text(re.compile("^" + re.escape(site_clock(received_at, words["clock"]))))
        maintenance = page.locator("#maintenance .alarm")
        expect(maintenance.locator(".kind")).to_have_text(words["battery_low"])
        expect(maintenance.locator(".battery")).to_have_text(words["days"])

        card.locator("button.ack").click()
        expect(card.locator(".state")).to_have_text(words["acknowledged"])
        acked_at = http.get("/api/v1/alarms?state=acknowledged", headers=bearer(db, "admin")).json()[0]["acknowledged_at"]
        expect(card.locator(".acked")).to_have_text(
            words["acked"].format(who=carer["username"], time=site_clock(acked_at, words["clock"])))
        expect(page.locator("#toast")).to_have_text(words["toast"])
        if words is ZH:
            text = page.locator("body").inner_text()
            assert latin_words(text, carer["username"], button.id, bin_.id, "Block 4", "a-7", " V") == set()

    # The switch: this page in the other language, and every page after it.
    page.click("#langs a[data-lang=%s]" % switch_to)
    expect(page.locator("h1")).to_have_text(other["console"])
    expect(page.locator("#calls .alarm .state")).to_have_text(other["acknowledged"])
    page.goto(server.url + "/devices")
    expect(page.locator("h1")).to_have_text(other["devices"])
    expect(page.locator("#dev-" + bin_.id)).to_contain_text(other["never_seen"])
    page.goto(server.url + "/residents")
    expect(page.locator("h1")).to_have_text(other["residents"])
    expect(page.locator("html")).to_have_attribute("lang", other["html"])

