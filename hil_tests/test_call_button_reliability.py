"""Reliability: 20 virtual call buttons, 200 presses, with random Wi-Fi outages, the fleet server
killed (kill -9) and restarted, and boards power-cut at random moments.

Every alarm a button stored appears in the fleet exactly once, none is lost, none is invented, and
every delivered alarm was signalled "received" (or "answered") on its button. The fault schedule
comes from a seed (printed) so a failure can be replayed:

    HIL_SEEDS=1234 pytest hil_tests/test_call_button_reliability.py

The oracle compares what the buttons logged with what the fleet stored only once both have
settled: each button has handled its last press (a press line after it), and a read of the
consoles, then the fleet, then the consoles again agree. An alarm in the fleet but in no console
read after it was invented; one in a console but never in the fleet was lost. Presses go out by
the clock (the fleet's restarts run on a thread of their own): when the host falls behind, two
presses that then overlap are one long press, as for a finger. A press on a button whose firmware
does not watch its pin yet (still booting after power returned or a timer wake) is made but not
expected to be handled: nothing on a chip sees it either (the virtual board's `button_watched`
says when the firmware has its IRQ handler on the pin). Each board's `*.host.log` in the
test's log folder has wall-clock stamps and the host's own lines (power, Wi-Fi, button held and
released). The suite runs three seeds; for a longer soak:

    HIL_SEEDS=$(seq -s, 1 20) pytest hil_tests/test_call_button_reliability.py
"""

import os
import random
import re
import threading
import time

import httpx
import pytest

from hil_tests.fleet_process import FleetProcessError

BUTTONS = 20
PRESSES = 200
FAULT_PHASE_S = 75.0
WIFI_OUTAGES = 12
POWER_CUTS = 16
FLEET_KILLS = 3
BOOT_S = 1.5            # a board powered on is given this long to boot before it is pressed

ALARM = re.compile(r"button: alarm ref=(\S+) seq=")
SIGNALLED = re.compile(r"button: (?:received|answered) ref=(\S+)")
# What a button logs when it handles a press (firmware/app/roles/call_button.py): a new alarm, a
# press on the open one, a long press (cancel, or nothing to cancel, or ignored).
PRESS_HANDLED = re.compile(r"button: (?:alarm ref=\S+ seq=\d+\r?\n|press ref=|cancel ref=|nothing to cancel|"
                           r"long press ignored)")
SEEDS = [int(s) for s in os.environ.get("HIL_SEEDS", "20261130,4242,90210").split(",")]


def make_schedule(seed):
    """[(t, action, board_index, arg)] sorted by time; the same seed gives the same schedule."""
    rng = random.Random(seed)
    ev = []
    for _ in range(PRESSES):
        ev.append((rng.uniform(0, FAULT_PHASE_S), "press", rng.randrange(BUTTONS), rng.randint(120, 400)))
    for _ in range(WIFI_OUTAGES):
        t, b = rng.uniform(0, FAULT_PHASE_S - 10), rng.randrange(BUTTONS)
        ev += [(t, "wifi_down", b, None), (t + rng.uniform(2, 12), "wifi_up", b, None)]
    for _ in range(POWER_CUTS):
        t, b = rng.uniform(0, FAULT_PHASE_S - 5), rng.randrange(BUTTONS)
        ev += [(t, "power_cut", b, None), (t + rng.uniform(0.3, 4), "power_on", b, None)]
    for i in range(FLEET_KILLS):
        t = FAULT_PHASE_S * (i + 0.5) / FLEET_KILLS + rng.uniform(-5, 5)
        ev += [(t, "fleet_kill", None, None), (t + rng.uniform(1, 5), "fleet_start", None, None)]
    return _after_boot(sorted(ev, key=lambda e: (e[0], e[1])))


def _after_boot(ev):
    """A press in the first BOOT_S after a button's power returns waits until BOOT_S, so that most
    find the firmware watching (a press before that is seen by nothing: docs/call-button.md
    "Limits"; the test checks `button_watched` when it presses)."""
    powered_on, out = {}, []
    for t, action, i, arg in ev:
        if action == "power_on":
            powered_on[i] = t
        elif action == "press" and t < powered_on.get(i, -BOOT_S) + BOOT_S:
            t = powered_on[i] + BOOT_S
        out.append((t, action, i, arg))
    return sorted(out, key=lambda e: (e[0], e[1]))


class FleetOperator(threading.Thread):
    """Kills and restarts the fleet on the schedule, on its own thread: a restart takes seconds
    (the server starting under load), and the buttons' presses must not wait for it."""

    def __init__(self, fleet, schedule, t0):
        super().__init__(daemon=True)
        self.fleet, self.t0, self.error = fleet, t0, None
        self.steps = [(t, a) for t, a, _i, _x in schedule if a.startswith("fleet_")]

    def run(self):
        try:
            for t, action in self.steps:
                time.sleep(max(0.0, self.t0 + t - time.monotonic()))
                self.fleet.kill() if action == "fleet_kill" else self.fleet.start()
        except Exception as e:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.error = e


class Caregiver(threading.Thread):
    """Acknowledges and resolves open call alarms a moment after they arrive, while the fleet is up,
    so buttons close their alarms and later presses raise new ones."""

    def __init__(self, fleet):
        super().__init__(daemon=True)
        self.fleet, self.stop, self.handled = fleet, threading.Event(), 0

    def run(self):
        while not self.stop.wait(0.5):
            try:
                with self.fleet.client(timeout=5) as c:
                    for a in c.get("/api/v1/alarms", params={"kind": "call", "open": "true"}).json():
                        if a["state"] == "received":
                            c.post("/api/v1/alarms/%d/acknowledge" % a["id"])
                        elif a["state"] == "acknowledged":
                            c.post("/api/v1/alarms/%d/resolve" % a["id"], json={"note": "reliability run"})
                            self.handled += 1
            except (httpx.HTTPError, ValueError, TypeError, FleetProcessError):
                pass  # the fleet is down (killed on purpose): try again later


# The seeds run one after another on one worker: three fleets of 20 buttons at once would
# measure the host, not the firmware.
@pytest.mark.long
@pytest.mark.xdist_group("fault-injection")
@pytest.mark.needs("button", "wifi", "power", "many")
@pytest.mark.parametrize("seed", SEEDS)
def test_no_alarm_lost_or_doubled_under_faults(make_board, fleet, hil_log_dir, seed):
    schedule = make_schedule(seed)
    print("HIL_SEED=%d: %d presses, %d Wi-Fi outages, %d power cuts, %d fleet kills on %d buttons"
          % (seed, PRESSES, WIFI_OUTAGES, POWER_CUTS, FLEET_KILLS, BUTTONS))
    (hil_log_dir / "schedule.txt").write_text("HIL_SEED=%d\n" % seed + "".join(
        "%7.2f %-11s %s %s\n" % (t, a, "" if b is None else "button-%02d" % b, "" if x is None else x)
        for t, a, b, x in schedule))

    boards = [make_board("button-%02d" % i, role="call_button", power="battery") for i in range(BUTTONS)]
    for b in boards:
        b.expect(r"hello ok", timeout=60)
    devices = {d["hw_id"]: d["id"] for d in fleet.devices(role="call_button")}
    device_of = {b.name: devices[b.hw_id] for b in boards}

    powered = [True] * BUTTONS
    pressed = skipped = merged = unwatched = 0
    last_press = {}         # board index -> console position just before its last press
    held_until = {}         # board index -> when its last press is released (monotonic)
    late = 0.0              # how far behind the schedule the presses went out, at most
    carer = Caregiver(fleet)
    carer.start()
    t0 = time.monotonic()
    operator = FleetOperator(fleet, schedule, t0)
    operator.start()
    for t, action, i, arg in schedule:
        if action.startswith("fleet_"):
            continue                    # the operator's
        time.sleep(max(0.0, t0 + t - time.monotonic()))
        now = time.monotonic()
        late = max(late, now - t0 - t)
        b = boards[i]
        if action == "press":
            # By the time it goes out, not the schedule: a press that is late (the host busy)
            # may land while the one before is still held, and the finger is then still down.
            if powered[i] and now < held_until.get(i, 0):
                merged += 1   # one long press, not two
            elif powered[i]:
                st = b.info()
                # Seen only if the firmware watches the pin (its button made) or sleeps with it as
                # its wake pin; a press on a board still booting, before that, is seen by nothing
                # (docs/call-button.md "Limits").
                if st["button_watched"] or st["state"] == "sleeping":
                    last_press[i] = st["console_end"]
                    pressed += 1
                else:
                    unwatched += 1
                b.press(arg)
                held_until[i] = time.monotonic() + arg / 1000.0 + 0.05
            else:
                skipped += 1  # nobody can raise an alarm on a button without power
        elif action == "wifi_down":
            b.wifi(False)
        elif action == "wifi_up":
            b.wifi(True)
        elif action == "power_cut":
            if powered[i]:
                b.power_cut()
                powered[i] = False
                last_press.pop(i, None)     # a press not yet handled is lost with the power
        elif action == "power_on":
            if not powered[i]:
                b.start()
                powered[i] = True

    operator.join(60)
    assert operator.error is None, "HIL_SEED=%d: the fleet did not restart: %r" % (seed, operator.error)
    # Everything restored: power, Wi-Fi, the fleet. Then let every button deliver what it holds.
    if not fleet.running:
        fleet.start()
    for i, b in enumerate(boards):
        b.wifi(True)
        if not powered[i]:
            b.start()

    def wake_if_sleeping(b):
        if b.state == "sleeping":       # a sleeping button retries on its timer: skip the wait
            b.fast_forward()

    # Settle 1: every button has handled its last press (it may have been asleep when pressed).
    deadline = time.monotonic() + 120
    unhandled = dict(last_press)
    while unhandled:
        for i, mark in list(unhandled.items()):
            if PRESS_HANDLED.search(boards[i].console_text(mark)):
                del unhandled[i]
        assert time.monotonic() < deadline, "HIL_SEED=%d: last press never handled on %s" % (
            seed, ["%s since %d: %r" % (boards[i].name, m, boards[i].console_text(m)[-600:]) for i, m in unhandled.items()])
        time.sleep(0.5)

    # Settle 2: consoles, then fleet, then consoles again, until they agree.
    def logged(pattern):
        return {(device_of[b.name], r) for b in boards for r in pattern.findall(b.console_text(0))}

    deadline = time.monotonic() + 240
    while True:
        before = logged(ALARM)
        keys = [(a["device_id"], a["ref"]) for a in fleet.api(
            "GET", "/api/v1/alarms", params={"kind": "call", "limit": 1000})]
        after = logged(ALARM)
        lost, invented = sorted(before - set(keys)), sorted(set(keys) - after)
        unsignalled = sorted(before - logged(SIGNALLED))
        if before == after and not lost and not invented and not unsignalled:
            break
        assert time.monotonic() < deadline, "HIL_SEED=%d: lost %s, invented %s, not signalled 'received' %s" % (
            seed, lost, invented, unsignalled)
        for device_id, _ in lost + unsignalled:
            wake_if_sleeping(next(b for b in boards if device_of[b.name] == device_id))
        time.sleep(1.0)
    carer.stop.set()
    carer.join(5)
    expected = after
    assert len(keys) == len(set(keys)), "HIL_SEED=%d: an alarm appears twice" % seed
    print("HIL_SEED=%d: %d presses (%d on unpowered buttons, %d on buttons still booting, %d overlapping the one "
          "before; at most %.2f s behind the schedule), %d alarms stored by buttons, all in the fleet exactly once "
          "and signalled received; caregiver closed %d" % (seed, pressed, skipped, unwatched, merged, late,
                                                           len(expected), carer.handled))
    # A button that stops watching its pin while awake would show here, not as a lost press.
    assert unwatched <= PRESSES // 10, "HIL_SEED=%d: %d presses found the button not watching" % (seed, unwatched)
    assert len(expected) >= BUTTONS, "too few alarms for the run to mean anything"
