# The call button role (firmware/app/roles/call_button.py, docs/call-button.md) on the
# runtime, fake hardware and FakeFleet: press -> alarm with a ref -> received ->
# answered; not delivered and retries with the same ref; cancel after the alarm;
# no second alarm while one is open; survival across deep sleep and power cuts;
# heartbeat interval and battery_low; no reboot while an alarm is open. MicroPython.
import sys
import time
import asyncio
import mptest
from mptest import eq, ok

ROOT = mptest.setup_root()
import store  # noqa: E402
import machine  # noqa: E402  (tests/firmware/mp/fakehw: FAKE hardware)
import log  # noqa: E402
from drivers import led as ledmod, buzzer as buzmod  # noqa: E402
from fakectl import URL, fleet  # noqa: E402

BTN, LED, BUZ, ADC = 27, 26, 25, 34
BOARD = {"name": "virtual", "chip": "esp32",
         "pins": {"button": BTN, "led": LED, "buzzer": BUZ, "battery_adc": ADC},
         "button_active_low": True, "led_active_low": False, "battery_divider": 2.0,
         "wake": "ext0", "accel": None}

# every LED pattern and tune shown, in order: ("led"|"buz", name)
SHOWN = []
_show, _play = ledmod.Led.show, buzmod.Buzzer.play


def _rec_show(self, name, steps=None, repeat=1):
    SHOWN.append(("led", name))
    return _show(self, name, steps, repeat)


def _rec_play(self, name, tune=None):
    SHOWN.append(("buz", name))
    return _play(self, name, tune)


ledmod.Led.show = _rec_show
buzmod.Buzzer.play = _rec_play

LINES = []
log.sink = LINES.append


def lines(word):
    return [ln for ln in LINES if (" button: " + word) in ln]


def flash(power="battery", wake="none", ident=None, volts=3.0):
    if ident is None:
        ident = {"role": "call_button", "board": "virtual", "fleet_url": URL,
                 "enroll_token": "et_cb" + str(time.ticks_us())}
    ident = dict(ident)
    ident["power"] = power
    store.write_json("/config.json", ident)
    store.write_json("/board.json", BOARD)
    store.write_json("/state/boot.json", {"slot": "a", "tries": 0, "pending": True,
                                          "reset_cause": "power_on" if wake == "none" else "deepsleep",
                                          "wake_reason": wake, "version": "0.1.0"})
    machine.FAKE.adc_uv[ADC] = int(volts / 2 * 1e6)


# indexes of the role's timings (call_button.TIMINGS_MS)
ND, HOLD, QUIET, RETRY, RETRY_MAX, TONE, GRACE, HB_WIFI = range(8)


def runtime(**timing):
    """A fresh runtime and a freshly imported role (each wake is a new process on a board);
    timing: shorter role timings, e.g. ND=300 (ms)."""
    sys.modules.pop("roles.call_button", None)
    import roles
    if hasattr(roles, "call_button"):
        delattr(roles, "call_button")
    import supervisor
    rt = supervisor.Runtime()
    import roles.call_button as cb
    for k in timing:
        cb.TIMINGS_MS[globals()[k]] = timing[k]
    del SHOWN[:]
    del LINES[:]
    return rt, cb


async def ctl(rt, **kw):
    kw["device_id"] = rt.config.get("device_id")
    return await fleet("/_fake/ctl", kw)


async def events(rt, etype=None, sent=True):
    """The device's events the fleet stored (after the outbox emptied, if sent)."""
    if sent and rt.decision is None:
        await until(lambda: rt.outbox.pending() == 0, 5000, "outbox sent")
    st = await fleet("/_fake/state?device_id=" + rt.config.get("device_id"))
    return [e for e in st["events"] if etype is None or e["type"] == etype]


async def until(cond, ms=8000, what="condition"):
    t0 = time.ticks_ms()
    while not cond():
        if time.ticks_diff(time.ticks_ms(), t0) > ms:
            raise AssertionError("timeout waiting for " + what)
        await asyncio.sleep_ms(20)


async def press(ms=150):
    machine.FAKE.set_level(BTN, 0)
    await asyncio.sleep_ms(ms)
    machine.FAKE.set_level(BTN, 1)
    await asyncio.sleep_ms(100)                # released long enough to debounce


def woke_by_press(ms=200):
    """The button is held at boot (it woke the board) and released after ms."""
    machine.FAKE.levels[BTN] = 0

    async def release():
        await asyncio.sleep_ms(ms)
        machine.FAKE.set_level(BTN, 1)
    asyncio.create_task(release())


async def started(rt, hello=True):
    """The role runs and watches the button (made by the role on a mains board)."""
    await until(lambda: rt._drv.get("button") is not None and (rt.link.hello_ok or not hello),
                5000, "start")


async def enrolled():
    """A first boot (timer-less, no press) that enrolls and sleeps: returns the identity."""
    flash()
    rt, cb = runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    return dict(rt.config.ident), rt


def seq_of(shown, name):
    return [i for i, s in enumerate(shown) if s[1] == name]


# ---- tests ---------------------------------------------------------------------------

async def test_press_alarm_received_answered_then_sleep():
    ident, rt0 = await enrolled()
    await ctl(rt0, config={"answer_wait_s": 20})
    flash(wake="pin", ident=ident)
    woke_by_press(200)
    rt, cb = runtime()
    task = asyncio.create_task(rt.run())
    await until(lambda: lines("received"), what="received")
    al = await events(rt, "alarm")
    eq(len(al), 1)
    ref = al[0]["data"]["ref"]
    eq(al[0]["data"]["kind"], "call")
    eq(al[0]["data"]["battery_v"], 3.0)
    ok(len(ref) <= 32, ref)
    ok(lines("alarm ref=%s seq=%d" % (ref, al[0]["seq"])), LINES)
    ok(rt.decision is None and "alarm" in rt.tokens, "awake for the answer")
    ok(rt.link.polling, "long-polling while waiting for the answer")
    # press feedback came first: LED press and tone press before anything else
    eq(SHOWN[:2], [("led", "press"), ("buz", "press")])
    await ctl(rt, alarms={ref: "acknowledged"})
    await until(lambda: lines("answered"), 3000, "answered")
    d = await asyncio.wait_for_ms(task, 8000)
    eq(d[0], "sleep")
    names = [n for _, n in SHOWN]
    ok(seq_of(SHOWN, "press")[0] < names.index("received") < names.index("answered"), SHOWN)
    ok(("buz", "received") in SHOWN and ("buz", "answered") in SHOWN, SHOWN)
    freqs = [f for f, d in machine.FAKE.pwm.get(BUZ, []) if d]
    ok(freqs.index(2000) < freqs.index(1500) < freqs.index(1000), freqs)   # press, received, answered
    # the open alarm is remembered (answered, not yet resolved) in RTC memory and flash
    eq(store.read_json("/state/button.json")["a"]["st"], "answered")
    eq(rt.rtc.get("cb")["a"]["ref"], ref)
    eq(d[1], cb.next_wake_ms())
    ok(d[1] > 3600000, "answered: no retry wakes, the heartbeat's")


async def test_a_press_while_a_power_on_boot_loads_raises_an_alarm():
    # The role's button is made before the rest of the application loads (BUTTON_AT_BOOT): a
    # press that comes and goes meanwhile (here while the link is made; on a chip, while
    # modules load from flash) is an alarm, not lost before anything watched the pin.
    ident, _rt0 = await enrolled()
    flash(ident=ident)                                      # power-on: no wake press
    import startup
    make_link = startup._link

    def pressing(*a):
        machine.FAKE.set_level(BTN, 0)
        time.sleep_ms(120)
        machine.FAKE.set_level(BTN, 1)
        return make_link(*a)
    startup._link = pressing
    try:
        rt, cb = runtime()
        task = asyncio.create_task(rt.run())
        await until(lambda: lines("alarm ref="), 3000, "the alarm")
    finally:
        startup._link = make_link
    eq(rt.wake_reason, "none")
    await until(lambda: lines("received"), what="received")
    eq(len(await events(rt, "alarm")), 1)
    rt.finish("test")
    await task


async def test_dns_outage_does_not_freeze_the_press_light_and_tone():
    # The fleet is reached by name; this wake has no address kept (a power cut lost RTC
    # memory) and DNS hangs 3 s, then fails. Light and tone must start at once and the loop
    # that plays them must keep running through every lookup.
    import resolve
    from fakedns import FakeDns
    from loopwatch import LoopWatch
    ident, _ = await enrolled()
    ident["fleet_url"] = URL.replace("127.0.0.1", "fleet.district.test")
    dns = FakeDns(3000, answer=None)
    flash(wake="pin", ident=ident)
    machine.FAKE.rtc = b""
    woke_by_press(200)
    rt, cb = runtime(ND=2000)
    watch = LoopWatch()
    task = asyncio.create_task(rt.run())
    await until(lambda: lines("not delivered"), 6000, "not delivered yet")
    worst = watch.stop()
    task.cancel()
    ok(dns.calls >= 1, "the fleet's name was never looked up")
    eq(SHOWN[:2], [("led", "press"), ("buz", "press")])
    ok(worst < 250, "the loop stood still for %d ms while DNS hung" % worst)
    eq(resolve.getaddrinfo, dns)


async def awake_button_with_alarm():
    """A mains-powered (awake) button, started and pressed, its alarm received."""
    ident, _ = await enrolled()
    flash(power="mains", ident=ident)
    rt, cb = runtime()
    task = asyncio.create_task(rt.run())
    await started(rt)
    await press()
    await until(lambda: lines("received"), what="received")
    return rt, cb, task


async def test_second_press_while_open_resignals_no_second_alarm():
    rt, cb, task = await awake_button_with_alarm()
    await asyncio.sleep_ms(1800)               # the received signal has played
    del SHOWN[:]
    await press()
    await until(lambda: lines("press ref="), what="re-signal")
    await until(lambda: ("led", "received") in SHOWN, 3000, "received shown again")
    eq(SHOWN[:2], [("led", "press"), ("buz", "press")])
    await asyncio.sleep_ms(300)
    al = await events(rt, "alarm")
    eq(len(al), 1, "one alarm for two presses")
    ok("state=received" in lines("press ref=")[0])
    rt.finish("test")
    await task


async def test_long_press_cancels_after_the_alarm_in_outbox_order():
    ident, rt0 = await enrolled()
    await ctl(rt0, config={"long_press_ms": 1000})
    flash(power="mains", ident=ident)
    rt, cb = runtime()
    task = asyncio.create_task(rt.run())
    await until(lambda: rt.link and rt.link.hello_ok and rt.cfg["long_press_ms"] == 1000)
    await press(150)
    await until(lambda: lines("alarm ref="), what="alarm")
    await press(1300)                          # long press: began with the alarm open
    await until(lambda: lines("cancel ref="), 3000, "cancel")
    await until(lambda: rt.outbox.pending() == 0, 3000, "sent")
    evs = [e for e in await events(rt) if e["type"] in ("alarm", "alarm_cancel")]
    eq([e["type"] for e in evs], ["alarm", "alarm_cancel"])
    ok(evs[0]["seq"] < evs[1]["seq"])
    eq(evs[0]["data"]["ref"], evs[1]["data"]["ref"])
    await until(lambda: ("buz", "cancel") in SHOWN and ("led", "cancel") in SHOWN, 3000, "cancel signal")
    ok(lines("closed ref=%s state=cancel" % evs[0]["data"]["ref"]))
    eq(store.read_json("/state/button.json"), None)   # nothing open any more
    ok("alarm" not in rt.tokens)
    # a long press right after the cancel: nothing to cancel, no new alarm
    await press(1300)
    await until(lambda: lines("nothing to cancel"), 3000, "nothing")
    await until(lambda: ("buz", "nothing") in SHOWN, 3000, "nothing tune")
    # a long press that raises an alarm does not cancel it
    cb.TIMINGS_MS[GRACE] = 0
    await press(1300)
    await until(lambda: lines("long press ignored"), 3000, "ignored")
    await asyncio.sleep_ms(300)
    evs = [e["type"] for e in await events(rt) if e["type"] in ("alarm", "alarm_cancel")]
    eq(evs, ["alarm", "alarm_cancel", "alarm"])
    rt.finish("test")
    await task


async def test_not_delivered_then_received_with_the_same_ref():
    ident, rt0 = await enrolled()
    await ctl(rt0, fail=2)                     # the fleet fails 2 requests (backoff ~1+2 s)
    flash(power="mains", ident=ident)
    rt, cb = runtime(ND=500)
    task = asyncio.create_task(rt.run())
    await started(rt, hello=False)
    await press()
    await until(lambda: lines("not delivered"), 3000, "not delivered")
    ok(rt.led.name in ("not_delivered", "press"), rt.led.name)
    ok(("buz", "not_delivered") in SHOWN, SHOWN)
    ok(lines("not delivered")[0].startswith("W "))
    ok(rt.decision is None and "alarm" in rt.tokens)
    await until(lambda: lines("received"), 15000, "received after the outage")
    al = await events(rt, "alarm")
    eq(len(al), 1)
    ok(al[0]["data"]["ref"] in lines("received")[0])
    # the "received" tune waits for the "not delivered" one to end: it follows the log line
    await until(lambda: ("buz", "received") in SHOWN, 3000, "received tune")
    ok(SHOWN.index(("buz", "not_delivered")) < SHOWN.index(("buz", "received")))
    rt.finish("test")
    await task


async def test_undelivered_alarm_sleeps_with_retry_and_survives_power_cut():
    ident, rt0 = await enrolled()
    await ctl(rt0, fail=1000)                  # the fleet is down
    flash(wake="pin", ident=ident)
    woke_by_press(100)
    rt, cb = runtime(ND=300, HOLD=1500)
    rt.offline_ms = 500
    d = await rt.run()
    eq(d[0], "sleep")
    ok(d[1] <= 30000, "retry wake in 30 s, not the heartbeat's: %s" % (d,))
    ref = lines("alarm ref=")[0].split("ref=")[1].split()[0]
    ok(lines("not delivered ref=%s retry" % ref))
    ok(lines("sleep ref=%s state=not_delivered wake in 30 s" % ref), LINES)
    eq(rt.outbox.pending(), 1)
    eq(store.read_json("/state/button.json")["a"]["ref"], ref)
    # a retry wake while still down: same alarm, longer retry
    flash(wake="timer", ident=ident)
    rt, cb = runtime()
    rt.offline_ms = 500
    d = await rt.run()
    ok(lines("open ref=%s state=not_delivered" % ref), LINES)
    ok(lines("not delivered ref=%s" % ref) or rt.led.name == "not_delivered")
    ok(d[1] <= 60000 and d[1] > 30000, d)
    # power cut while asleep: RTC memory lost, the file keeps the alarm
    machine.FAKE.rtc = b""
    await ctl(rt, fail=0)
    flash(wake="none", ident=ident)
    rt, cb = runtime()
    task = asyncio.create_task(rt.run())
    await until(lambda: lines("received ref=%s" % ref), 5000, "received after power cut")
    al = await events(rt, "alarm")
    eq([e["data"]["ref"] for e in al], [ref])
    await until(lambda: ("buz", "received") in SHOWN, 3000, "received tune")
    rt.finish("test")
    await task


async def test_power_cut_between_persist_and_outbox_resends_same_ref():
    ident, rt0 = await enrolled()
    # the alarm was persisted with the seq it was about to get, then the power went
    nxt = rt0.outbox.next_seq
    store.write_json("/state/button.json", {"a": {"ref": "feed-9-abcd", "seq": nxt,
                                                  "st": "sending"}})
    machine.FAKE.rtc = b""
    flash(ident=ident)
    rt, cb = runtime()
    task = asyncio.create_task(rt.run())
    await until(lambda: lines("received ref=feed-9-abcd"), 5000, "received")
    ok(lines("alarm ref=feed-9-abcd seq=%d resent" % nxt), LINES)
    al = await events(rt, "alarm")
    eq([(e["seq"], e["data"]["ref"]) for e in al], [(nxt, "feed-9-abcd")])
    rt.finish("test")
    await task


async def test_answer_shown_at_next_wake_then_resolved_closes():
    ident, rt0 = await enrolled()
    await ctl(rt0, config={"answer_wait_s": 1})
    flash(wake="pin", ident=ident)
    woke_by_press(100)
    rt, cb = runtime()
    d = await rt.run()
    eq(d[0], "sleep")
    ok(d[1] <= 30000, d)                      # follow-up wake to learn the answer
    ref = rt.rtc.get("cb")["a"]["ref"]
    eq(rt.rtc.get("cb")["a"]["st"], "received")
    await ctl(rt, alarms={ref: "acknowledged"})
    flash(wake="timer", ident=ident)
    rt, cb = runtime()
    d = await rt.run()
    ok(lines("answered ref=" + ref), LINES)
    ok(("led", "answered") in SHOWN and ("buz", "answered") in SHOWN)
    ok(d[1] > 3600000, "answered: heartbeat wake only")
    await ctl(rt, alarms={ref: "resolved"})
    flash(wake="timer", ident=ident)
    rt, cb = runtime()
    d = await rt.run()
    ok(lines("closed ref=%s state=resolved" % ref), LINES)
    ok(not store.exists("/state/button.json"))
    eq(SHOWN, [])                              # nothing to show: no LED, no tone


async def test_resolved_before_the_button_showed_an_answer_is_shown_answered_then_closed():
    # HIL seed 4242: the power was cut after the alarm went out but before "received" was shown;
    # a caregiver resolved it meanwhile. At the next boot the elder is told someone answered.
    ident, rt0 = await enrolled()
    store.write_json("/state/button.json", {"a": {"ref": "cut-3-0000", "seq": 3,
                                                  "st": "not_delivered"}})
    await ctl(rt0, alarms={"cut-3-0000": "resolved"})
    machine.FAKE.rtc = b""
    flash(ident=ident)
    rt, cb = runtime()
    task = asyncio.create_task(rt.run())
    await until(lambda: lines("closed ref=cut-3-0000"), 8000, "closed")
    ok(lines("answered ref=cut-3-0000"), LINES)
    ok(lines("closed ref=cut-3-0000 state=resolved"), LINES)
    ok(("led", "answered") in SHOWN and ("buz", "answered") in SHOWN, SHOWN)
    rt.finish("test")
    await task


async def test_press_before_hello_on_a_closed_alarm_raises_a_new_one():
    ident, rt0 = await enrolled()
    # an alarm delivered at an earlier wake that the fleet no longer lists (resolved
    # more than 24 h ago): a press at wake re-signals it, then raises a new alarm
    store.write_json("/state/button.json", {"a": {"ref": "old-1-0000", "seq": 1,
                                                  "st": "received"}})
    machine.FAKE.rtc = b""
    flash(wake="pin", ident=ident)
    woke_by_press(100)
    rt, cb = runtime()
    task = asyncio.create_task(rt.run())
    await until(lambda: lines("alarm ref="), 5000, "new alarm")
    ok(lines("press ref=old-1-0000 state=received"))
    ok(lines("closed ref=old-1-0000 state=gone"))
    al = await events(rt, "alarm")
    eq(len(al), 1)
    ok(al[0]["data"]["ref"] != "old-1-0000")
    rt.finish("test")
    await task


async def test_heartbeat_interval_and_contents_from_config():
    ident, rt0 = await enrolled()
    hb = await events(rt0, "heartbeat")
    eq(len(hb), 1)
    eq(hb[0]["data"], {"interval_min": 1440, "battery_v": 3.0})
    await ctl(rt0, config={"heartbeat_min": 5})
    flash(wake="timer", ident=dict(ident, wifi={"ssid": "lab", "password": "pw"}))
    rt, cb = runtime()
    d = await rt.run()
    eq(rt.cfg["heartbeat_min"], 5)
    ok(250000 <= d[1] <= 300000, d)           # the next heartbeat, in <= 5 min
    # due now (the schedule lives in RTC memory): sent with rssi once Wi-Fi is up
    rt.rtc.set("sch", {})
    flash(wake="timer", ident=dict(ident, wifi={"ssid": "lab", "password": "pw"}))
    rt, cb = runtime()
    d = await rt.run()
    hb = await events(rt, "heartbeat")
    eq(hb[-1]["data"], {"interval_min": 5, "battery_v": 3.0, "rssi": -60})
    ok(d[1] > 250000)


async def test_battery_low_once_with_the_reserve_left():
    ident, rt0 = await enrolled()
    for v in (2.66, 2.64, 2.62, 3.1, 2.64):
        rt0.rtc.set("sch", {})                 # heartbeat due
        flash(wake="timer", ident=ident, volts=v)
        rt, cb = runtime()
        await rt.run()
        rt0 = rt
    bl = await events(rt, "battery_low")
    eq(len(bl), 2, "once at 2.64 V, again only after a new cell: %s" % bl)
    eq(bl[0]["data"]["battery_v"], 2.64)
    ok(bl[0]["data"]["days_left"] <= 30)
    ok(bl[0]["data"]["days_left"] >= 20)
    import energy
    eq(bl[0]["data"]["days_left"], energy.days_left(2.64))
    ok(energy.days_left(2.66) > 30)


async def test_no_reboot_while_an_alarm_is_open():
    rt, cb, task = await awake_button_with_alarm()
    ref = lines("received")[0].split("ref=")[1]
    await ctl(rt, commands=[{"id": 7, "name": "reboot", "args": {}}])
    await asyncio.sleep_ms(1500)
    ok(rt.decision is None, "rebooted with an alarm open")
    await ctl(rt, alarms={ref: "resolved"})
    await until(lambda: lines("closed ref="), 3000, "closed")
    await ctl(rt, alarms={})                   # the fleet's next response repeats the command
    d = await asyncio.wait_for_ms(task, 8000)
    eq(d, ("reboot", "command 7"))
    ok(lines("closed ref=%s state=resolved" % ref))


async def test_reboot_deferred_at_a_wake_with_an_open_alarm():
    ident, rt0 = await enrolled()
    await ctl(rt0, commands=[{"id": 8, "name": "reboot", "args": {}}])
    store.write_json("/state/button.json", {"a": {"ref": "r-1-0000", "seq": 1,
                                                  "st": "answered"}})
    await ctl(rt0, alarms={"r-1-0000": "acknowledged"})
    flash(wake="timer", ident=ident)
    rt, cb = runtime()
    d = await rt.run()
    eq(d[0], "sleep")                           # not ("reboot", ...)
    ok(lines("sleep ref=r-1-0000 state=answered"), LINES)


def test_energy_model():
    import energy
    ok(energy.life_days() / 365 >= 5, "5 years at a daily heartbeat, two presses a week")
    eq(energy.fraction(3.3), 1.0)
    eq(energy.fraction(2.0), 0.0)
    last = 10 ** 9
    for mv in range(3100, 2590, -10):
        d = energy.days_left(mv / 1000)
        ok(d <= last)
        last = d
    ok(energy.days_left(3.0, 1) < 30, "a heartbeat a minute empties it in days")


mptest.main(globals())
