"""The call button end to end: a press on the board, the alarm in the fleet, the caregiver's answer
back on the board - with the real firmware, the real fleet and (last test) a real browser."""

import re
import time

import pytest

from hil_tests.plugin import enrolled
from hil_tests.polling import wait_until

BUTTON = dict(role="call_button", power="battery")




def fleet_alarm(fleet, device_id, ref, state=None):
    for a in fleet.api("GET", "/api/v1/alarms", params={"device_id": device_id, "kind": "call"}):
        if a["ref"] == ref and (state is None or a["state"] == state):
            return a
    return None


def signals(board, since=0.0):
    """LED pattern changes after `since` (host time)."""
    return [o for o in board.outputs("led", since=since)]


@pytest.mark.needs("button")
def test_press_is_received_then_answered(make_board, fleet):
    board = make_board("button", **BUTTON)
    dev = enrolled(board, fleet)
    board.wait_state("sleeping", timeout=30)
    t_press = time.time()
    board.press(200)
    ref = board.expect(r"button: alarm ref=(\S+) seq=\d+", timeout=10).group(1)
    # Local feedback at once: the LED lit within the first moments of the wake.
    first_led = wait_until(lambda: [o for o in signals(board, t_press) if o["on"]], "LED feedback", 5)[0]
    assert first_led["t"] - t_press < 1.5
    board.expect(r"button: received ref=%s" % re.escape(ref), timeout=15)
    alarm = wait_until(lambda: fleet_alarm(fleet, dev["id"], ref), "alarm in the fleet")
    assert alarm["state"] == "received"

    t_ack = time.time()
    fleet.api("POST", "/api/v1/alarms/%d/acknowledge" % alarm["id"])
    board.expect(r"button: answered ref=%s" % re.escape(ref), timeout=10)
    # LED changes travel on the board's output channel, a moment after the console line.
    wait_until(lambda: signals(board, t_ack), "the LED showing 'answered'", 5)
    fleet.api("POST", "/api/v1/alarms/%d/resolve" % alarm["id"], json={"note": "HIL: visited, all well"})
    assert fleet_alarm(fleet, dev["id"], ref)["state"] == "resolved"


@pytest.mark.plain_http                     # a man in the middle can only rewrite what is not encrypted
@pytest.mark.needs("button", "mitm")
def test_a_man_in_the_middle_cannot_make_the_button_show_answered(make_board, fleet):
    board = make_board("button", **BUTTON)
    dev = enrolled(board, fleet)
    board.wait_state("sleeping", timeout=30)
    # Every reply on the path now says "acknowledged" where the fleet wrote "received".
    board.tamper('"received"', '"acknowledged"')
    start = board.mark()
    board.press(200)
    ref = board.expect(r"button: alarm ref=(\S+) seq=\d+", timeout=10).group(1)
    alarm = wait_until(lambda: fleet_alarm(fleet, dev["id"], ref), "alarm in the fleet")
    board.expect(r"not signed for this request: refused", timeout=15)
    time.sleep(8)                                           # time enough to believe it, were it believed
    console = board.console_text(start)
    assert "button: answered" not in console and "button: received" not in console
    assert board.info()["net"]["tampered"] > 0
    assert fleet_alarm(fleet, dev["id"], ref)["state"] == "received"     # nobody answered
    # The path is honest again: the board learns the truth, and only a real answer is "answered".
    board.tamper(None)
    board.expect(r"button: received ref=%s" % re.escape(ref), timeout=60)
    assert "button: answered" not in board.console_text(start)
    fleet.api("POST", "/api/v1/alarms/%d/acknowledge" % alarm["id"])
    board.expect(r"button: answered ref=%s" % re.escape(ref), timeout=15)


@pytest.mark.needs("button")
def test_long_press_cancels_the_alarm(make_board, fleet):
    board = make_board("button", **BUTTON)
    dev = enrolled(board, fleet)
    board.wait_state("sleeping", timeout=30)
    board.press(200)
    ref = board.expect(r"button: alarm ref=(\S+)", timeout=10).group(1)
    board.expect(r"button: received ref=%s" % re.escape(ref), timeout=15)
    board.press(3600)
    board.expect(r"button: cancel ref=%s" % re.escape(ref), timeout=10)
    wait_until(lambda: fleet_alarm(fleet, dev["id"], ref, "cancelled"), "alarm cancelled in the fleet")


@pytest.mark.needs("button", "power")
def test_a_press_held_as_the_power_returns_raises_an_alarm(make_board, fleet):
    # An elder presses as the battery goes in, and lets go before the board has started its
    # application: the press is not lost (docs/call-button.md "Limits").
    board = make_board("button", **BUTTON)
    dev = enrolled(board, fleet)
    board.wait_state("sleeping", timeout=30)
    board.power_cut()
    board.hold()
    board.start()
    board.expect(r"rst:0x1 \(POWERON_RESET\)", timeout=10)
    time.sleep(2.0)                     # let go before the 5 s that would mean Wi-Fi setup mode
    board.release()
    ref = board.expect(r"button: alarm ref=(\S+) seq=\d+\r\n", timeout=10).group(1)
    board.expect(r"button: received ref=%s" % re.escape(ref), timeout=30)
    assert fleet_alarm(fleet, dev["id"], ref)["state"] == "received"


@pytest.mark.needs("button", "wifi")
def test_alarm_waits_out_a_wifi_outage(make_board, fleet):
    board = make_board("button", **BUTTON)
    dev = enrolled(board, fleet)
    board.wait_state("sleeping", timeout=30)
    board.wifi(False)
    board.press(200)
    ref = board.expect(r"button: alarm ref=(\S+)", timeout=10).group(1)
    board.expect(r"button: not delivered ref=%s retry" % re.escape(ref), timeout=30)
    assert fleet_alarm(fleet, dev["id"], ref) is None
    board.wifi(True)
    board.expect(r"button: received ref=%s" % re.escape(ref), timeout=90)
    alarms = [a for a in fleet.api("GET", "/api/v1/alarms", params={"device_id": dev["id"]}) if a["ref"] == ref]
    assert len(alarms) == 1


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.needs("button")
def test_console_in_browser_acknowledges_and_button_answers(make_board, fleet):
    from playwright.sync_api import expect, sync_playwright

    fleet.api("POST", "/api/v1/users", json={"username": "carer", "role": "caregiver",
                                             "password": "carer-password-1"})
    board = make_board("button", **BUTTON)
    dev = enrolled(board, fleet)
    board.wait_state("sleeping", timeout=30)
    with sync_playwright() as p:
        # Over HTTPS the browser trusts exactly the fleet's test key (pinned), nothing else.
        pin = ["--ignore-certificate-errors-spki-list=" + fleet.pki.spki_sha256] if fleet.pki else []
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + pin)
        try:
            page = browser.new_page(locale="en-US")     # "live" below is the English badge
            page.goto(fleet.url + "/console")
            page.fill("input[name=username]", "carer")
            page.fill("input[name=password]", "carer-password-1")
            page.click("button[type=submit]")
            page.goto(fleet.url + "/console")
            expect(page.locator("#live")).to_have_text("live")
            expect(page.locator("#calls .alarm")).to_have_count(0)

            board.press(200)                                   # the elder presses the button
            ref = board.expect(r"button: alarm ref=(\S+)", timeout=10).group(1)
            card = page.locator("#calls .alarm")
            expect(card).to_have_count(1, timeout=15000)       # appeared live, no reload
            expect(card.locator(".device")).to_contain_text(dev["id"])
            expect(card.locator(".no-resident")).to_be_visible()
            card.locator("button.ack").click()
            expect(card).to_have_class(re.compile(r"\bst-acknowledged\b"))
            board.expect(r"button: answered ref=%s" % re.escape(ref), timeout=15)
        finally:
            browser.close()
