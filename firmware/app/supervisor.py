# The runtime: one asyncio loop that owns config, outbox, Wi-Fi, link, drivers and the
# role, a watchdog fed only while the loop is healthy, error capture for the next
# hello, commands, and the deep-sleep decision. main.py calls main().
#
# Role contract (roles/<name>.py, see docs/firmware.md):
#   setup(rt)        once per boot/wake, after drivers and outbox exist; may return an
#                    object with the three members below (else the module is the role)
#   run()            coroutine: the role's work for this wake (restarted if it crashes)
#   should_sleep()   True when the role has nothing left to do now
#   next_wake_ms()   ms until the role must run again (timer wake), None = pin only
#   self_test()      optional: (ok, detail) for the self_test command
import sys
import gc
import asyncio
import time
import devproto
import log
import store
from config import Config
from board import Board
from bootstate import BootState
from rtcmem import RtcMem
from clock import Clock

WDT_MS = 30000            # watchdog timeout (longest blocking call must stay below)
OFFLINE_MS = 20000        # a sleeping role waits this long for the fleet per wake
MIN_SLEEP_MS = 1000
MAX_CRASHES = 5           # per task and boot; then reboot (boot.py counts it)
ERRORS = "/state/errors.json"
CRASH = "/state/crash.txt"
CMDS = "/state/cmds.json"


class Runtime:
    def __init__(self):
        self.boot = BootState()
        self.config = Config()
        self.board = Board()
        self.rtc = RtcMem()
        self.clock = Clock(self.rtc)
        st = self.boot
        self.slot = st.slot
        self.app_version = st.get("version") or store.read_json(
            "/app_%s/app.json" % self.slot, {}).get("version", "0.0.0")
        rc, wr = st.get("reset_cause"), st.get("wake_reason")
        self.reset_cause = rc if rc in devproto.RESET_CAUSES else "unknown"
        self.wake_reason = wr if wr in devproto.WAKE_REASONS else "unknown"
        self.woke_by_pin = self.wake_reason in ("pin", "ext1")
        self.battery_powered = self.config.get("power") == "battery"
        self.tokens = set()                 # stay-awake reasons
        self.offline_ms = OFFLINE_MS
        self.outbox = self.link = self.wifi = self.role = None
        self.button = self.led = self.buzzer = self.battery = None
        self.decision = None
        self._tasks = []
        self._beats = {}
        self._cmd_running = set()
        done = store.read_json(CMDS, [])
        self._cmd_done = done if isinstance(done, list) else []
        errs = store.read_json(ERRORS, [])
        self.errors = [e for e in errs if isinstance(e, str)] if isinstance(errs, list) else []
        try:
            with open(store.path(CRASH)) as f:
                self.record_error(f.read())
            store.remove(CRASH)
        except OSError:
            pass
        note = st.take_note()
        if note and ("boot: " + note) not in self.errors:
            self.record_error("boot: " + note)

    # ---- API for roles -------------------------------------------------------------
    @property
    def cfg(self):
        """The device config now in force (devproto keys; changes when the fleet pushes)."""
        return self.config.dev

    def emit(self, etype, data=None, t=None):
        """Validate and store one event; the link sends it at once. Returns its seq,
        or None if the outbox refused it (full; never for alarms)."""
        import outbox
        if data is None:
            data = {}
        if t is None:
            t = self.clock.now()
        devproto.check_event({"seq": 1, "t": max(0, t), "type": etype, "data": data})
        try:
            seq = self.outbox.append(etype, data, t)
        except outbox.Full:
            return None
        log.i("supervisor", "event %s seq=%d" % (etype, seq))
        if self.link is not None:
            self.link.kick()
        return seq

    def stay_awake(self, reason):
        self.tokens.add(reason)

    def allow_sleep(self, reason):
        self.tokens.discard(reason)

    def time(self):
        return self.clock.now()

    def due(self, name, period_s, mark=True):
        """True when period_s has passed since `name` last ran (kept across deep sleep)."""
        sch = dict(self.rtc.get("sch") or {})
        last = sch.get(name)
        now = self.clock.raw()
        if last is None or now - last >= period_s or now < last:
            if mark:
                sch[name] = now
                self.rtc.set("sch", sch)
            return True
        return False

    def ms_until(self, name, period_s):
        last = (self.rtc.get("sch") or {}).get(name)
        if last is None:
            return 0
        return max(0, (last + period_s - self.clock.raw()) * 1000)

    def beat(self, name, max_ms):
        """Promise to call beat(name) again within max_ms, else the watchdog resets."""
        self._beats[name] = (time.ticks_ms(), max_ms)

    def spawn(self, name, fn, restart=True):
        """Run coroutine function fn as a supervised task."""
        t = asyncio.create_task(self._guard(name, fn, restart))
        self._tasks.append(t)
        return t

    # ---- errors -----------------------------------------------------------------
    def record_error(self, msg):
        """Keep an error for the next hello's "errors" (newest MAX_ERRORS)."""
        self.errors.append(msg[:devproto.MAX_STR])
        self.errors = self.errors[-devproto.MAX_ERRORS:]
        try:
            store.makedirs("/state")
            store.write_json(ERRORS, self.errors)
        except OSError:
            pass
        if self.link is not None and self.link.hello_ok:
            self.link.need_hello = True     # report now, not at the next boot
            self.link.kick()

    def _loop_exc(self, loop, ctx):
        ex = ctx.get("exception")
        if ex is not None:
            log.exc("supervisor", "unhandled in task", ex)
            self.record_error("task: " + log.describe(ex))
        else:
            log.e("supervisor", str(ctx.get("message")))

    async def _guard(self, name, fn, restart):
        n = 0
        while True:
            try:
                await fn()
                return
            except asyncio.CancelledError:
                raise
            except Exception as ex:
                n += 1
                log.exc("supervisor", "task %s crashed (%d)" % (name, n), ex)
                self.record_error("%s: %s" % (name, log.describe(ex)))
                if not restart:
                    return
                if n >= MAX_CRASHES:
                    log.e("supervisor", "task %s keeps crashing, rebooting" % name)
                    self.finish("crash", name)
                    return
                await asyncio.sleep_ms(min(1000 * n, 10000))

    # ---- hello / downlink hooks ---------------------------------------------------
    def hello_body(self):
        v = sys.implementation.version
        body = {"fw": "%d.%d.%d" % (v[0], v[1], v[2]), "app": self.app_version,
                "slot": self.slot, "board": self.board_name(),
                "role": self.config.get("role", ""), "reset_cause": self.reset_cause,
                "wake_reason": self.wake_reason, "heap_free": gc.mem_free(),
                "cv": self.config.cv, "stream": self.outbox.stream,
                "seq": self.outbox.next_seq - 1, "errors": self.errors[:devproto.MAX_ERRORS]}
        rssi = self.wifi.rssi() if self.wifi is not None else None
        if isinstance(rssi, int):
            body["rssi"] = rssi
        return body

    def board_name(self):
        return self.board.data.get("name") or self.config.get("board") or "unknown"

    def _on_hello(self, nerr):
        if nerr:
            self.errors = self.errors[nerr:]
            if self.errors:
                store.write_json(ERRORS, self.errors)
            else:
                store.remove(ERRORS)
        if not self.boot.healthy:
            self.boot.mark_healthy()
            log.i("supervisor", "healthy: slot %s confirmed" % self.slot)

    def _on_command(self, cmd):
        cid, name = cmd.get("id"), cmd.get("name")
        if not isinstance(cid, int) or cid in self._cmd_done or cid in self._cmd_running:
            return
        if name == "reboot" and self.tokens:
            log.i("supervisor", "reboot deferred: awake for %s" % ",".join(self.tokens))
            return                          # the fleet repeats it until a cmd_result
        self._cmd_running.add(cid)
        self.spawn("cmd", lambda: self._command(cid, name, cmd.get("args") or {}), False)

    async def _command(self, cid, name, args):
        log.i("supervisor", "command %d %s" % (cid, name))
        ok, detail = True, ""
        try:
            if name == "identify":
                if self.led:
                    self.led.show("identify")
                if self.buzzer:
                    self.buzzer.play("identify")
                detail = "identify pattern played"
            elif name == "self_test":
                ok, detail = self.self_test()
            elif name == "reboot":
                detail = "rebooting"
            else:
                ok, detail = False, "unknown command " + str(name)
            self._cmd_done = (self._cmd_done + [cid])[-16:]
            store.write_json(CMDS, self._cmd_done)
            seq = self.emit("cmd_result", {"id": cid, "ok": ok, "detail": detail[:devproto.MAX_STR]})
            if name == "reboot" and seq is not None:
                await self.link.wait_acked(seq, 10000)
                self.finish("reboot", "command %d" % cid)
        finally:
            self._cmd_running.discard(cid)

    def self_test(self):
        parts, ok = [], True
        heap = gc.mem_free()
        parts.append("heap=%d" % heap)
        ok = ok and heap > 8000
        st = self.outbox.stats()
        parts.append("outbox=%d/%dB" % (st["pending"], st["bytes"]))
        if self.battery is not None:
            v = self.battery.read()
            parts.append("battery=%sV" % v)
            ok = ok and v is not None
        f = getattr(self.role, "self_test", None)
        if f is not None:
            rok, rdetail = f()
            ok = ok and rok
            parts.append("role:" + str(rdetail))
        return ok, " ".join(parts)

    # ---- startup ------------------------------------------------------------------
    def _drivers(self):
        b = self.board
        for name in ("led", "buzzer", "battery"):
            try:
                setattr(self, name, getattr(b, name)())
            except Exception as ex:
                log.exc("supervisor", "driver %s" % name, ex)
                self.record_error("driver %s: %s" % (name, log.describe(ex)))
        try:
            self.button = b.button(self.cfg["long_press_ms"], self.woke_by_pin)
        except Exception as ex:
            log.exc("supervisor", "driver button", ex)
        if self.woke_by_pin and self.button is not None:
            log.i("button", "woke by pin")

    def _net(self):
        from link import Link
        w = self.config.get("wifi")
        if isinstance(w, dict) and w.get("ssid"):
            from wifi import Wifi
            self.wifi = Wifi(w["ssid"], w.get("password", ""), self.rtc,
                             idle=lambda: not self.tokens)
        else:
            log.i("wifi", "no ssid configured: using the host network")
        self.link = Link(self.config, self.outbox, self.clock, self.hello_body, self.wifi,
                         self.rtc, self._on_command, self._on_hello, self.board_name())

    def _load_role(self):
        name = self.config.get("role_module") or self.config.get("role")
        try:
            mod = getattr(__import__("roles." + name), name)
        except ImportError as ex:
            if name not in str(ex):
                raise
            log.w("supervisor", "no role module %s, running generic" % name)
            mod = getattr(__import__("roles.generic"), "generic")
        r = mod.setup(self)
        self.role = r if r is not None else mod

    async def run(self):
        """Run until the device should sleep or reboot; returns (kind, arg)."""
        asyncio.get_event_loop().set_exception_handler(self._loop_exc)
        log.i("supervisor", "start app=%s slot=%s role=%s board=%s reset=%s wake=%s heap=%d" % (
            self.app_version, self.slot, self.config.get("role"), self.board_name(),
            self.reset_cause, self.wake_reason, gc.mem_free()))
        if not self.config.provisioned():
            log.e("config", "/config.json missing or incomplete (role, fleet_url): not provisioned")
            self._drivers()
            if self.led:
                self.led.show("unprovisioned")
            return ("idle", None)
        import outbox
        self.outbox = outbox.Outbox(clock=self.clock)
        self._drivers()
        self._net()
        self._done = asyncio.Event()
        self.spawn("watchdog", self._watchdog)
        if self.button is not None:
            self.spawn("button", self.button.run)
        if self.wifi is not None:
            self.spawn("wifi", self.wifi.run)
        self.spawn("link", self.link.run)
        self.spawn("poll", self.link.poll)
        self._load_role()
        self.spawn("role", self.role.run)
        self.spawn("sleep", self._sleeper)
        await self._done.wait()
        for t in self._tasks:
            t.cancel()
        await asyncio.sleep_ms(0)
        return self.decision

    def finish(self, kind, arg=None):
        if self.decision is None:
            self.decision = (kind, arg)
            self._done.set()

    # ---- watchdog and sleep ---------------------------------------------------------
    def _healthy(self):
        now = time.ticks_ms()
        for name in self._beats:
            t, max_ms = self._beats[name]
            if time.ticks_diff(now, t) > max_ms:
                log.e("supervisor", "task %s silent for %d ms: watchdog will reset" % (
                    name, time.ticks_diff(now, t)))
                return False
        return True

    async def _watchdog(self):
        wdt = None
        try:
            from machine import WDT
            wdt = WDT(timeout=WDT_MS)
        except Exception as ex:
            log.w("supervisor", "no watchdog: %s" % log.describe(ex))
        while True:
            log.uptime_ms()
            if wdt is not None and self._healthy():
                wdt.feed()
            await asyncio.sleep_ms(1000)

    def _can_sleep(self):
        r = self.role
        if r is None or not r.should_sleep() or self.tokens or self._cmd_running:
            return False
        for d in (self.led, self.buzzer):
            if d is not None and d.busy():
                return False
        b = self.button
        return b is None or not (b.pressed or b.pending())

    async def _sleeper(self):
        waiting = None
        while True:
            await asyncio.sleep_ms(100)
            if self.button is not None:
                self.button.long_ms = self.cfg["long_press_ms"]
            if not self._can_sleep():
                waiting = None
                continue
            ms = self.role.next_wake_ms()
            if not self.link.settled():
                waiting = waiting if waiting is not None else time.ticks_ms()
                if time.ticks_diff(time.ticks_ms(), waiting) < self.offline_ms:
                    continue
                n = self.rtc.get("fw", 0) + 1
                self.rtc.set("fw", n)
                retry = min(60000 << min(n - 1, 6), 3600000)
                ms = retry if ms is None else min(ms, retry)
                log.w("supervisor", "fleet not reached (%s), %d events pending, retry in %d s" % (
                    self.link.last_error, self.outbox.pending(), retry // 1000))
            else:
                self.rtc.set("fw", 0)
            self.finish("sleep", ms)
            return

    def execute(self, decision):
        """Carry out run()'s decision: deep sleep or reset (does not return on a board)."""
        kind, arg = decision
        if kind == "idle":
            return
        import machine
        if self.led is not None:
            self.led.set(False)
        if kind == "sleep":
            ms = arg
            try:
                wake = self.board.arm_wake()
            except Exception as ex:
                log.exc("supervisor", "arm wake", ex)
                wake = None
            if ms is None and wake is None:
                ms = 3600000
            if ms is not None:
                ms = max(MIN_SLEEP_MS, int(ms))
            self.boot.mark_clean()
            log.i("supervisor", "sleep %s ms wake=%s" % (ms, wake))
            if ms is None:
                machine.deepsleep()
            machine.deepsleep(ms)
        if kind == "reboot":
            self.boot.mark_clean()
        log.i("supervisor", "%s (%s)" % (kind, arg))
        machine.reset()


def main():
    rt = Runtime()
    try:
        decision = asyncio.run(rt.run())
    except Exception as ex:
        log.exc("supervisor", "runtime failed", ex)
        rt.record_error("supervisor: " + log.describe(ex))
        decision = ("crash", "runtime")
    rt.execute(decision)
    return rt
