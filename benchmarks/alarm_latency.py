"""Call button latency and energy on virtual boards against a real fleet under ingest load.

    python benchmarks/alarm_latency.py     # --presses 1000 --buttons 3 --profiles 2000,10000

For each profile (the number of other devices sending the background load), on a fresh fleet:

1. press -> alarm visible in the console's live stream (SSE /api/v1/live/alarms): p50, p99,
   p99.9 and max over --presses presses on awake, connected buttons (mains-powered call buttons:
   the "cached connection" case), and over --sleep-presses presses on a button in deep sleep
   (boot + simulated Wi-Fi association + hello + event);
2. caregiver acknowledgement (HTTP, on the console's open keep-alive connection, as a console
   page has one; the benchmark's own client set-up, 25-100 ms of TLS context, is not counted) ->
   the button knows (long-poll answer logged) and ->
   "answered" shown; the acknowledgement is sent the moment the button shows "received", so
   "answered" waits for the received tune (~0.35 s) to end: the worst case;
   all while wrk sends fresh signed single-event requests (a heartbeat or telemetry, every one
   stored) from the profile's devices, round-robin, paced at --load-rate events/s. With 10,000
   devices every device is heard from between two status saves, so the fleet's housekeeping is
   fleet-sized;
3. (first profile) the energy model: awake time per press and per heartbeat wake measured on a
   battery button (the world's Wi-Fi connect set to a real ESP32's full scan: MicroPython's
   WLAN.connect() cannot keep a cached channel, ports/esp32/network_wlan.c), turned into a
   CR123A battery life at one heartbeat a day and two presses a week, with the currents stated
   below.

It also counts the fleet's "slow writer group" warnings (a writer transaction over 100 ms: it
held every alarm waiting in it). Ends with one JSON line of the figures.
"""

import argparse
import contextlib
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402

import _common as bench  # noqa: E402
from boards import build_fs, compile_app  # noqa: E402
from boards.virtual import BoardFarm  # noqa: E402
from fleet.core.config import Settings  # noqa: E402
from hil_tests.fleet_process import FleetProcess  # noqa: E402
from ingest import RequestMaker, enroll_devices  # noqa: E402

# ---- energy model: the assumptions, stated once -----------------------------------------------
CELL_MAH = 1500.0            # CR123A lithium, nominal capacity
USABLE = 0.85                # to the firmware's cut-off voltage, derated for cold and pulse load
SELF_DISCHARGE = 0.01        # of capacity per year (lithium-MnO2)
ACTIVE_MA = 100.0            # ESP32 working: boot, association, TLS, requests (240 mA TX bursts averaged)
WAITING_MA = 35.0            # awake but idle on an open connection (long-poll, signal showing):
                             # Wi-Fi modem sleep between DTIM beacons, CPU mostly in light sleep
SLEEP_UA = 15.0              # deep sleep: 10 uA chip + 5 uA board (LDO quiescent, switched divider)
TLS_S = 1.5                  # per wake on real hardware: a TLS handshake (the virtual board runs HTTP)
ANSWER_AFTER_S = 30.0        # a caregiver answers a press after this long (the button waits awake)
HEARTBEATS_PER_YEAR = 365.0  # default heartbeat: daily
PRESSES_PER_YEAR = 104.0     # two a week
REAL_WIFI_MS = 2000          # ESP32 connect scanning every channel + association (design brief §3:
                             # ~1 s with a cached channel, which connect() zeroes, up to 8 s)


def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] * 1000, 1) if xs else None


def spread(xs):
    """p50, p99, p99.9 and max in ms, and n."""
    return {"p50": pct(xs, 50), "p99": pct(xs, 99), "p99.9": pct(xs, 99.9), "max": pct(xs, 100), "n": len(xs)}


def show(label, fig, note=""):
    print("%-30s: p50 %s ms, p99 %s ms, p99.9 %s ms, max %s ms (n=%d)%s" % (
        label, fig["p50"], fig["p99"], fig["p99.9"], fig["max"], fig["n"], note))


class AlarmStream(threading.Thread):
    """Reads the console's live stream and notes when each alarm was first seen."""

    def __init__(self, url, token):
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.seen = {}
        self.ready = threading.Event()
        self.lock = threading.Condition()

    def run(self):
        headers = {"Authorization": "Bearer " + self.token, "Accept": "text/event-stream"}
        with httpx.stream("GET", self.url + "/api/v1/live/alarms", headers=headers, timeout=None) as r:
            kind = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                    self.ready.set()
                elif line.startswith("data:") and kind == "alarm":
                    d = json.loads(line[5:])
                    with self.lock:
                        self.seen.setdefault((d["device_id"], d["ref"], d["transition"]), time.time())
                        self.lock.notify_all()

    def wait(self, device_id, ref, transition="raised", timeout=30.0):
        with self.lock:
            ok = self.lock.wait_for(lambda: (device_id, ref, transition) in self.seen, timeout)
            return self.seen[(device_id, ref, transition)] if ok else None


class Load(threading.Thread):
    """wrk sending fresh signed single-event requests, paced at `rate` a second, until stopped.
    Each 10 s run gets requests signed just before it (never replayed: every one is stored); the
    next run's are made while this one runs. wrk paces by a delay before each request, so the
    delay is corrected after each run for the response time it measured."""

    RUN_S = 10

    def __init__(self, url, maker, work, rate, connections):
        super().__init__(daemon=True)
        self.url, self.maker, self.work = url, maker, work
        self.rate, self.connections = rate, connections
        self.pace_ms = max(1, round(connections * 1000.0 / rate))
        self.stop, self.runs = threading.Event(), []

    def _requests(self):
        return bench.write_requests(self.maker.make(int(self.rate * self.RUN_S * 1.5), 1), self.work)

    def run(self):
        ahead = self._requests()
        while not self.stop.is_set():
            current, made = ahead, []
            maker = threading.Thread(target=lambda: made.append(self._requests()))
            maker.start()
            run = bench.run_wrk(self.url, current, self.RUN_S, self.connections, pace_ms=self.pace_ms)
            self.runs.append(run)
            got = (run["requests"] - run["non2xx"]) / (run["duration_us"] / 1e6)
            if got > 0:     # rate = connections / (pace + response time)
                response_ms = self.connections * 1000.0 / got - self.pace_ms
                self.pace_ms = max(1, round(self.connections * 1000.0 / self.rate - response_ms))
            os.unlink(current)
            maker.join()
            ahead = made[0]
        os.unlink(ahead)

    def events_per_s(self):
        ok = sum(r["requests"] - r["non2xx"] for r in self.runs)
        secs = sum(r["duration_us"] for r in self.runs) / 1e6
        return round(ok / secs) if secs else 0

    def refused(self):
        """{status or error: count} of the load's requests that were not acked."""
        out = {}
        for r in self.runs:
            for status, count in r.get("statuses", {}).items():
                out[status] = out.get(status, 0) + count
            for key in ("timeouts", "connect_errors", "read_errors"):
                if r[key]:
                    out[key] = out.get(key, 0) + r[key]
        return out


def image(fleet, power, name):
    cfg = {"role": "call_button", "power": power, "fleet_url": fleet.url,
           "enroll_token": fleet.enrollment_token(role="call_button"),
           "wifi": {"ssid": "bench", "password": "bench-pass"}, "site": name}
    return compile_app(build_fs("virtual", cfg))


def _console_call(console, method, path, **kw):
    r = console.request(method, path, **kw)
    r.raise_for_status()
    return r.json()


def alarm_cycle(board, console, stream, device_id, samples_press, samples_ack, asleep, samples_wifi=None,
                samples_board=None):
    """One press, answered. `console` is the caregiver's open HTTP connection (a console page keeps
    one alive): the acknowledgement is timed from the moment it is sent."""
    if asleep:
        board.wait_state("sleeping", timeout=60)
    mark = board.mark()
    t_press = time.time()
    board.press(150)
    ref = board.expect(r"button: alarm ref=(\S+)", timeout=30).group(1)
    if samples_board is not None:      # the board logged it (debounce, role): before its request
        samples_board.append(time.time() - t_press)
    t_seen = stream.wait(device_id, ref)
    if t_seen is None:
        raise RuntimeError("alarm %s never reached the live stream" % ref)
    samples_press.append(t_seen - t_press)
    if samples_wifi is not None:       # the wake's Wi-Fi connect, as the board logged it
        samples_wifi.append(int(board.expect(r"wifi: up .* in (\d+) ms", timeout=30, since=mark).group(1)) / 1000.0)
    board.expect(r"button: received ref=%s" % re.escape(ref), timeout=30)
    alarm = next(a for a in _console_call(console, "GET", "/api/v1/alarms",
                                          params={"device_id": device_id, "open": "true"}) if a["ref"] == ref)
    t_ack = time.time()
    _console_call(console, "POST", "/api/v1/alarms/%d/acknowledge" % alarm["id"])
    board.expect(r"link: alarms .*%s=acknowledged" % re.escape(ref), timeout=30)
    t_known = time.time()
    board.expect(r"button: answered ref=%s" % re.escape(ref), timeout=30)
    samples_ack.append((t_known - t_ack, time.time() - t_ack))
    _console_call(console, "POST", "/api/v1/alarms/%d/resolve" % alarm["id"], json={"note": "benchmark"})
    board.expect(r"button: closed ref=%s" % re.escape(ref), timeout=60, since=mark)


def energy(farm, fleet):
    """Awake seconds per heartbeat wake; per answered press (active until "received", then waiting)."""
    b = farm.create("energy", files=image(fleet, "battery", "energy"))
    b.start()
    b.set_world(wifi_scan_ms=REAL_WIFI_MS)
    b.expect(r"hello ok", timeout=60)
    b.wait_state("sleeping", timeout=60)
    beats = []
    for _ in range(5):
        t0 = time.time()
        b.fast_forward()                        # the heartbeat timer
        b.expect(r"supervisor: sleep \d+ ms", timeout=60)
        b.wait_state("sleeping", timeout=30)
        beats.append(b.awake_seconds(t0, time.time()))
    presses = []
    for _ in range(3):
        t0 = time.time()
        b.press(150)
        ref = b.expect(r"button: received ref=(\S+)", timeout=30).group(1)
        t_received = time.time()
        time.sleep(ANSWER_AFTER_S)
        device_id = fleet.device_by_hw(b.hw_id)["id"]
        alarm = next(a for a in fleet.api("GET", "/api/v1/alarms", params={"device_id": device_id, "open": "true"})
                     if a["ref"] == ref)
        fleet.api("POST", "/api/v1/alarms/%d/acknowledge" % alarm["id"])
        b.expect(r"button: answered ref=%s" % re.escape(ref), timeout=30)
        fleet.api("POST", "/api/v1/alarms/%d/resolve" % alarm["id"], json={"note": "benchmark"})
        b.wait_state("sleeping", timeout=180)
        active = b.awake_seconds(t0, t_received)
        presses.append((active, b.awake_seconds(t_received, time.time())))
    b.power_cut()
    presses.sort()
    return sorted(beats)[len(beats) // 2], presses[len(presses) // 2]


def battery_years(beat_s, press):
    press_active, press_waiting = press
    active_s = HEARTBEATS_PER_YEAR * (beat_s + TLS_S) + PRESSES_PER_YEAR * (press_active + TLS_S)
    per_year_mah = (active_s * ACTIVE_MA + PRESSES_PER_YEAR * press_waiting * WAITING_MA) / 3600.0
    sleep_mah = SLEEP_UA / 1000.0 * 24 * 365
    usable = CELL_MAH * USABLE
    return usable / (per_year_mah + sleep_mah + CELL_MAH * SELF_DISCHARGE), per_year_mah, sleep_mah


def slow_groups(log_path):
    """The fleet's "slow writer group: N ms ..." warnings: (count, longest ms)."""
    found = [float(m) for m in re.findall(r"slow writer group: (\d+) ms", Path(log_path).read_text(errors="replace"))]
    return len(found), max(found, default=0.0)


def run_profile(args, work, devices_n, with_energy):
    """One fresh fleet with devices_n background devices: the latency figures (and energy)."""
    # Each button is pressed about once a second for minutes, as no real one is: ~6 signed requests
    # a second (event, polls for received / acknowledged / resolved). The fleet's per-device budget
    # (5/s sustained, a guard against devices stuck in a loop) would answer some polls
    # `rate_limited` and the board would back off 1-2 s: raised here, for these buttons' sake.
    fleet = FleetProcess(Path(work) / ("fleet-%d" % devices_n), env={"FLEET_DEVICE_RATE_PER_S": "50"})
    token = fleet.bootstrap()
    t0 = time.monotonic()
    devices = enroll_devices(Settings.from_env(db=fleet.db), devices_n)
    print("profile %d devices: enrolled in %.0f s" % (devices_n, time.monotonic() - t0), flush=True)
    fleet.start()
    stream = AlarmStream(fleet.url, token)
    stream.start()
    stream.ready.wait(10)
    farm = BoardFarm(Path(work) / ("vboards-%d" % devices_n))
    load = None
    load_before = os.getloadavg()
    try:
        awake = [farm.create("mains-%d" % i, files=image(fleet, "mains", "bench")) for i in range(args.buttons)]
        sleepy = farm.create("battery-1", files=image(fleet, "battery", "bench"))
        for b in awake + [sleepy]:
            b.start()
        for b in awake + [sleepy]:
            b.expect(r"hello ok", timeout=120)
        ids = {b.name: fleet.device_by_hw(b.hw_id)["id"] for b in awake + [sleepy]}

        maker = RequestMaker(devices, fleet.url.split("//")[1])
        load = Load(fleet.url, maker, work, args.load_rate, args.load_connections)
        load.start()
        time.sleep(12)          # one status save of every device before the first press

        press_awake, ack_awake, press_sleep, ack_sleep, wifi_sleep, board_awake = [], [], [], [], [], []
        errors = []

        def drive(b, n):
            try:
                with fleet.client() as console:
                    for _ in range(n):
                        alarm_cycle(b, console, stream, ids[b.name], press_awake, ack_awake, asleep=False,
                                    samples_board=board_awake)
            except Exception as ex:  # reported below; the other buttons carry on
                errors.append("%s: %s" % (b.name, ex))

        per_button = -(-args.presses // len(awake))
        threads = [threading.Thread(target=drive, args=(b, per_button)) for b in awake]
        for t in threads:
            t.start()
        with fleet.client() as console:
            for _ in range(args.sleep_presses):
                alarm_cycle(sleepy, console, stream, ids[sleepy.name], press_sleep, ack_sleep, asleep=True,
                            samples_wifi=wifi_sleep)
        for t in threads:
            t.join()
        load.stop.set()
        load.join()
        load_after = os.getloadavg()
        if errors:
            raise RuntimeError("; ".join(errors))
        beat_s = press_s = None
        if with_energy:
            beat_s, press_s = energy(farm, fleet)
    finally:
        if load is not None:
            load.stop.set()
        farm.close()
        fleet.stop()

    acks = ack_awake + ack_sleep
    slow, longest = slow_groups(fleet.log_path)
    fig = {
        "devices": devices_n,
        "background_load_events_per_s": load.events_per_s(),
        "background_load_refused": load.refused(),
        "load_average_1min": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)},
        "press_to_console_ms": spread(press_awake),
        "press_to_board_alarm_line_ms": spread(board_awake),
        "press_to_console_from_sleep_ms": spread(press_sleep),
        "press_to_console_from_sleep_without_wifi_ms": spread([p - w for p, w in zip(press_sleep, wifi_sleep)]),
        "wifi_connect_on_wake_ms": spread(wifi_sleep),
        "ack_to_device_ms": spread([k for k, _ in acks]),
        "ack_to_answered_ms": spread([a for _, a in acks]),
        "slow_writer_groups": {"count": slow, "longest_ms": longest},
    }
    print("--- %d background devices ---" % devices_n)
    print("background load               : %d signed events/s acked (not acked: %s), paced at %d/s; load average "
          "%.2f -> %.2f" % (fig["background_load_events_per_s"], fig["background_load_refused"], args.load_rate,
                            load_before[0], load_after[0]))
    show("press -> console, awake", fig["press_to_console_ms"])
    show("  of which press -> board's line", fig["press_to_board_alarm_line_ms"],
         "; debounce and role, before the request (as the host saw the console line)")
    show("press -> console, deep sleep", fig["press_to_console_from_sleep_ms"])
    show("  of which Wi-Fi connect", fig["wifi_connect_on_wake_ms"],
         "; simulated: a full scan, as the port's WLAN.connect() always does")
    show("  the rest (boot, fleet, stream)", fig["press_to_console_from_sleep_without_wifi_ms"])
    show("acknowledge -> button knows", fig["ack_to_device_ms"], "; long-poll answer received")
    show("acknowledge -> answered shown", fig["ack_to_answered_ms"], "; after the 'received' tune ends")
    print("slow writer groups (> 100 ms) : %d (longest %.0f ms)" % (slow, longest))
    if beat_s is not None:
        years, awake_mah, sleep_mah = battery_years(beat_s, press_s)
        fig["energy"] = {"awake_s_per_heartbeat": round(beat_s, 2),
                         "awake_s_per_press": {"active": round(press_s[0], 2), "waiting": round(press_s[1], 2)},
                         "awake_mah_per_year": round(awake_mah, 1), "sleep_mah_per_year": round(sleep_mah, 1),
                         "battery_years": round(years, 2),
                         "assumptions": {"cell_mah": CELL_MAH, "usable": USABLE, "active_ma": ACTIVE_MA,
                                         "waiting_ma": WAITING_MA,
                                         "sleep_ua": SLEEP_UA, "tls_s_per_wake": TLS_S,
                                         "answer_after_s": ANSWER_AFTER_S, "wifi_ms": REAL_WIFI_MS,
                                         "heartbeats_per_year": HEARTBEATS_PER_YEAR,
                                         "presses_per_year": PRESSES_PER_YEAR}}
        print("awake per heartbeat           : %.2f s active (+%.1f s TLS on hardware)" % (beat_s, TLS_S))
        print("awake per press               : %.2f s active to 'received' (+%.1f s TLS), %.2f s waiting for the "
              "answer and showing it" % (press_s[0], TLS_S, press_s[1]))
        print("CR123A life                   : %.1f years (awake %.0f mAh/yr, sleep %.0f mAh/yr, self-discharge %.0f mAh/yr)" % (
            years, awake_mah, sleep_mah, CELL_MAH * SELF_DISCHARGE))
    return fig


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presses", type=int, default=1000, help="presses on awake buttons, per profile")
    ap.add_argument("--sleep-presses", type=int, default=20, help="presses on the sleeping button, per profile")
    # 3, not 10: each virtual button is a MicroPython interpreter, and ten of them saturate a
    # 2-core machine by themselves, so the figure would measure the host (docs/performance.md)
    ap.add_argument("--buttons", type=int, default=3, help="awake (mains) buttons pressed in parallel")
    ap.add_argument("--profiles", default="2000,10000", help="background devices of each profile, comma-separated")
    ap.add_argument("--load-rate", type=int, default=2000, help="background signed events a second")
    ap.add_argument("--load-connections", type=int, default=40)
    ap.add_argument("--no-energy", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it: the fleet's log, the boards' consoles")
    args = ap.parse_args()
    bench.ensure_wrk()
    figures = []
    with (contextlib.nullcontext(args.keep) if args.keep else bench.temp_dir()) as work:
        Path(work).mkdir(parents=True, exist_ok=True)
        for n, devices_n in enumerate(int(x) for x in args.profiles.split(",")):
            figures.append(run_profile(args, work, devices_n, with_energy=(n == 0 and not args.no_energy)))
    print(json.dumps({"profiles": figures}))


if __name__ == "__main__":
    main()
