# The runtime: one asyncio loop that owns config, outbox, Wi-Fi, link, drivers and the
# role, a watchdog fed only while the loop is healthy, error capture for the next
# hello, commands, and the deep-sleep decision. main.py calls main().
#
# Role contract (roles/<name>.py, see docs/firmware.md):
#   setup(rt)        once per boot/wake, after outbox and link exist; may return an
#                    object with the members below (else the module is the role)
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
import outbox
from micropython import const

_WDT_MS = const(30000)      # watchdog timeout (the longest blocking call must be shorter)
_MAX_CRASHES = const(5)     # per task and boot; then reset (boot.py counts the boot failed)
_GC_EVERY = const(1024)     # least bytes allocated between collections (docs/firmware.md "Heap")


class Runtime:
    def __init__(self, ident=None, ub=None, pressed=False):
        # What every wake needs is loaded here, first, while the heap is still compact:
        # the qstr pool grows in large contiguous steps that a fragmented heap may not
        # have. The one-time code is startup.py, dropped again at the end of run()'s setup.
        # ident: /config.json already read (main() read it), not parsed twice. ub: what an
        # update boot left in /state/otaboot.json (main() read it; otaboot.py). pressed: the
        # button was pressed while the board booted (_setup_mode).
        # A collection after every KB allocated (every 1/64 of what is free on a heap over
        # 64 KB free, where a collection costs more and holes matter less): a wake allocates
        # ~80 KB a second in small pieces, and collecting before the free space is cut into
        # holes is what keeps the large block a TLS handshake or a JSON body needs.
        gc.threshold(max(_GC_EVERY, gc.mem_free() >> 6))
        import startup
        startup.init(self, ident, ub, pressed)

    # ---- API for roles -------------------------------------------------------------
    def __getattr__(self, name):
        """rt.button, rt.led, rt.buzzer, rt.battery: made from board.json on first use
        (None if the board lacks the part), so a wake that needs none loads none."""
        if name not in ("button", "led", "buzzer", "battery"):
            raise AttributeError(name)
        drv = self._drv
        if name in drv:
            return drv[name]
        d = None
        try:
            d = self.board.driver(name, self.cfg["long_press_ms"], self.woke_by_pin)
        except Exception as ex:
            log.exc("supervisor", "driver " + name, ex)
            self.record_error("driver %s: %s" % (name, log.describe(ex)))
        # kept in _drv, not set on the instance: its dict would grow (to ~750 bytes in one
        # piece, in the middle of a press) and leave the old table as a hole
        drv[name] = d
        if name == "button" and d is not None and self.link is not None:   # tasks run
            self.spawn("button", d.run)
        return d

    def emit(self, kind, data=None, t=None):
        """Store one event; the link sends it at once. Returns its seq, or None if the
        outbox refused it (full; never for alarms). The fleet validates events."""
        try:
            seq = self.outbox.append(kind, data or {}, self.clock.now() if t is None else t)
        except outbox.Full:
            return None
        log.i("supervisor", "event %s seq=%d" % (kind, seq))
        if self.quiet:                      # a quiet wake has something to send after all
            self.quiet = False
            if self.role is not None:       # (in the role's setup startup spawns them)
                if self.wifi is not None:
                    self.spawn("wifi", self.wifi.run)
                self.spawn("link", self.link.run)
        if self.link is not None:
            self.link.kick()
        return seq

    def stay_awake(self, reason):
        self.tokens.add(reason)

    def allow_sleep(self, reason):
        self.tokens.discard(reason)

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
        """Keep an error for the next hello's "errors" (the newest MAX_ERRORS)."""
        self.errors = (self.errors + [msg[:devproto.MAX_STR]])[-devproto.MAX_ERRORS:]
        try:
            store.makedirs("/state")
            store.write_json("/state/errors.json", self.errors)
        except OSError:
            pass
        if self.link is not None and self.link.hello_ok:
            self.link.need_hello = True     # report now, not at the next boot
            self.link.kick()

    def _loop_exc(self, loop, c):
        ex = c.get("exception")
        try:
            log.exc("supervisor", "unhandled in task", ex)
            self.record_error("task: " + log.describe(ex))
        except MemoryError:
            pass

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
                try:
                    log.exc("supervisor", "task %s crashed (%d)" % (name, n), ex)
                    self.record_error("%s: %s" % (name, log.describe(ex)))
                except MemoryError:
                    # out of heap while telling it: the crash still counts, or the task would
                    # be gone for good and the wake never end (no sleep, no reset)
                    pass
                ex = None                   # (its traceback holds the crashed frames)
                if not restart:
                    return
                if n >= _MAX_CRASHES:
                    self.finish("crash", name)
                    try:
                        log.e("supervisor", "task %s keeps crashing, resetting" % name)
                    except MemoryError:
                        pass
                    return
                await asyncio.sleep_ms(min(1000 * n, 10000))

    # ---- hello / downlink hooks ---------------------------------------------------
    def hello_body(self):
        import hello                        # (loaded by Link.hello for this exchange)
        return hello.body(self)

    def _on_hello(self, n):
        import hello
        hello.done(self, n)

    def _on_command(self, c):
        if c.get("id") not in self._cmds:
            import commands                 # only when the fleet sends commands
            commands.start(self, c)

    # ---- startup ------------------------------------------------------------------
    async def run(self):
        """Run until the device should sleep or reset; returns (kind, arg)."""
        import startup
        try:
            idle = startup.start(self)
        finally:
            del startup
            sys.modules.pop("startup", None)
        if idle:
            return idle
        gc.collect()                        # the start's garbage gone before the exchanges
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
    async def watchdog(self):
        """The watchdog task: feeds machine.WDT while every beat() promise is kept."""
        wdt = None
        try:
            from machine import WDT
            wdt = WDT(timeout=_WDT_MS)
        except Exception as ex:
            log.w("supervisor", "no watchdog: %s" % log.describe(ex))
        while True:
            log.uptime_ms()
            ok = True
            now = time.ticks_ms()
            for name in self._beats:
                t, max_ms = self._beats[name]
                if time.ticks_diff(now, t) > max_ms:
                    log.e("supervisor", "task %s silent for %d ms: watchdog will reset" % (
                        name, time.ticks_diff(now, t)))
                    ok = False
            if wdt is not None and ok:
                wdt.feed()
            await asyncio.sleep_ms(1000)

    async def poll(self):
        """The poll task (poll.py, loaded when first needed)."""
        import poll
        await poll.run(self.link)

    async def _update(self, offer):
        # the update's code loads once the wake's exchanges are over (an offer comes with the
        # hello: `import ota` beside the events' request ran out of heap), into a compact heap
        await self.link.wait_settled(15000)
        gc.collect()
        import ota
        try:
            await ota.run(self, offer)
        finally:
            self.allow_sleep("update")
            sys.modules.pop("ota", None)

    def update_boot(self, offer):
        """ota.run() in a normal wake, once the guard lets the update go: the offer stored and a
        clean reboot into an update boot, which runs only the link and the update (otaboot.py)."""
        import ota                      # (loaded: ota.run is the caller)
        ota.enter(self, offer)

    async def _update_boot(self):
        import otaboot
        await otaboot.run(self)

    async def _sleeper(self):
        waiting = None
        link, drv = self.link, self._drv
        while True:
            await asyncio.sleep_ms(100)
            b = drv.get("button")
            if b is not None:
                b.long_ms = self.cfg["long_press_ms"]
            # long-poll while awake on mains, or while a role holds the device awake; started
            # once the hello went through and the link's exchange is over (the poll waits for
            # the hello anyway): its code, connection and handshake are not in the heap beside
            # the wake's first TLS connection and its events (a press wake ran out there)
            # (not for the health gate's "ota" alone: it waits for the hello and the self-test,
            # nothing from a poll, and a battery device's first boot after an update is tight)
            tk = self.tokens
            link.polling = not self.battery_powered or len(tk) > ("ota" in tk)
            if link.polling and link.hello_ok and not link.busy and not self._polling:
                self._polling = True
                self.spawn("poll", self.poll)
            u = link.update                 # an update offer (ota.py, while it stands)
            if isinstance(u, dict) and u.get("id") != self._upd:
                self._upd = u.get("id")
                self.tokens.add("update")
                self.spawn("update", lambda: self._update(u), False)
                continue
            # may sleep: the role says so, no stay-awake reason, no command running, no
            # finite LED pattern or tune playing, the button neither held nor unread
            if link.busy:                   # the role asked once the exchange is over: what
                continue                    # it loads for its sleep is not beside a request's
            r = self.role
            may = r is not None and r.should_sleep()
            link.shown = link.gen           # the role had its tick with the news (poll.py waits for it)
            if not may or self.tokens or self._cmds:
                waiting = None
                continue
            d, b = drv.get("led"), drv.get("buzzer")
            if (d is not None and d.busy()) or (b is not None and b.busy()):
                waiting = None
                continue
            b = drv.get("button")
            if b is not None and (b.pressed or b.pending()):
                waiting = None
                continue
            ms = self.role.next_wake_ms()
            if not self.quiet and not link.settled():
                waiting = waiting if waiting is not None else time.ticks_ms()
                if time.ticks_diff(time.ticks_ms(), waiting) < self.offline_ms:
                    continue
                n = self.rtc.get("fw", 0) + 1      # failed wakes in a row
                self.rtc.set("fw", n)
                retry = min(60000 << min(n - 1, 6), 3600000)
                ms = retry if ms is None else min(ms, retry)
                log.w("supervisor", "fleet not reached (%s), %d events pending, retry in %d s" % (
                    link.last_error, self.outbox.pending(), retry // 1000))
            else:
                self.rtc.set("fw", 0)
            self.finish("sleep", ms)
            return

    def execute(self, decision):
        """Carry out run()'s decision: deep sleep or reset (does not return on a board)."""
        if decision[0] != "idle":
            import power
            power.execute(self, decision)


def _setup_mode(ident, ub=None):
    """(why, pressed): Wi-Fi setup mode this boot and why, or None: no Wi-Fi network in
    /config.json ("no_wifi"), or the button held 5 s at a power-on or EN reset ("long_press";
    never at a deep-sleep wake, whose press is a call button's alarm, nor at the reset into or
    out of an update boot, ub: the firmware's own reset, and a press then is an alarm too).
    pressed: the button was held at that check and let go sooner - a press the runtime's
    button counts, as the one that wakes a board (else nothing would: it came and went before
    the button was made). Decided before the runtime loads, from the config it then keeps;
    the Improv code itself is not imported."""
    w = ident.get("wifi") if isinstance(ident, dict) else None
    if not (isinstance(w, dict) and w.get("ssid")):
        return "no_wifi", False
    import machine
    held = None
    if ub is None and machine.reset_cause() in (machine.PWRON_RESET, machine.HARD_RESET):
        import setuppress           # small, and gone again before the runtime loads
        held = setuppress.held(ident.get("role"))
        long = held is not None and held >= setuppress.HOLD_MS
        del setuppress
        sys.modules.pop("setuppress", None)
        if long:
            return "long_press", False
    return None, held is not None


def main():
    ident = store.read_json("/config.json", None)
    # An update boot's offer, or the press that ended one (otaboot.py): seen before the
    # runtime loads, like setup mode, so that an update boot loads no role.
    ub = store.read_json("/state/otaboot.json", None)
    ub = ub if isinstance(ub, dict) else None
    why, pressed = _setup_mode(ident, ub)
    if why:
        ident = None
        import improvmode           # the Improv code: only in setup mode (docs/firmware.md)
        improvmode.main(why)        # ends in a reset or deep sleep
        return None
    rt = Runtime(ident, ub, pressed)
    try:
        decision = asyncio.run(rt.run())
    except Exception as ex:
        log.exc("supervisor", "runtime failed", ex)
        rt.record_error("supervisor: " + log.describe(ex))
        decision = ("crash", "runtime")
    rt.execute(decision)
    return rt
