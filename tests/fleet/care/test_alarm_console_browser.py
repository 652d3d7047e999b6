"""The alarm console in Debian's headless Chromium: a caregiver logs in, an alarm sent by a signed
device request appears without a reload, the caregiver acknowledges it, and the button's parked
long-poll sees "acknowledged"."""

import re
import threading

import httpx
import pytest
from playwright.sync_api import expect

from fleetkit import PASSWORD, enroll, make_user

from alarmkit import Server, alarm, battery_low



@pytest.fixture
def page(browser):
    return browser.new_page(locale="en-US")      # the English texts below (zh-CN: test_i18n_browser.py)


@pytest.fixture
def server(settings, db):
    running = Server(settings).start()
    yield running
    running.stop()


def test_console_live_alarm_acknowledge_and_button_answered(page, server, db):
    carer = make_user(db, "caregiver")
    page.goto(server.url + "/console")
    expect(page.locator("h1")).to_have_text("Log in")
    page.fill("input[name=username]", carer["username"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("#nav-console")
    expect(page.locator("h1")).to_have_text("Alarm console")
    expect(page.locator("#live")).to_have_text("live")
    page.click("#sound")                                   # the click browsers need before any sound
    expect(page.locator("#sound")).to_have_text(re.compile("Sound on"))

    with httpx.Client(base_url=server.url, timeout=60) as http:
        button = enroll(http, db, site="Block 4")
        button.events([battery_low(1, 2.6, days_left=30)])
        stored = button.events([alarm(2, "a-7", battery_v=2.98)]).json()
        assert stored["down"]["alarms"] == {"a-7": "received"}

        card = page.locator("#calls .alarm")
        expect(card).to_have_count(1)                      # appeared without a reload
        expect(card).to_have_class(re.compile(r"\bst-received\b"))
        expect(card.locator(".no-resident")).to_be_visible()
        expect(card.locator(".no-resident")).to_have_text(re.compile("No resident assigned"))
        expect(card.locator(".device")).to_contain_text(button.id)
        expect(card.locator(".battery")).to_contain_text("2.98 V")
        expect(page.locator("#n-calls")).to_have_text("1")
        maintenance = page.locator("#maintenance .alarm")
        expect(maintenance).to_have_count(1)               # the low battery: apart, lower priority
        expect(maintenance).to_have_class(re.compile(r"\bcat-supervision\b"))

        # The button waits awake for an answer: a long-poll parked on its cursor.
        polled = {}
        poller = threading.Thread(target=lambda: polled.update(
            response=button.poll(cursor=stored["down"]["cursor"], wait=30)))
        poller.start()
        card.locator("button.ack").click()
        expect(card).to_have_class(re.compile(r"\bst-acknowledged\b"))
        expect(card.locator(".acked")).to_contain_text("Acknowledged by " + carer["username"])
        poller.join(35)
        assert polled["response"].json()["down"]["alarms"] == {"a-7": "acknowledged"}

        card.locator("input.note").fill("Visited: she had fallen, no injury")
        card.locator("button.do-resolve").click()
        closed = page.locator("#closed .alarm")
        expect(closed).to_have_count(1)
        expect(closed.locator(".outcome")).to_contain_text("Visited: she had fallen")
        expect(page.locator("#calls .alarm")).to_have_count(0)
        assert button.poll(cursor=0).json()["down"]["alarms"] == {"a-7": "resolved"}
