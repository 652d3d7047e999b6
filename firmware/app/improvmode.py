# Wi-Fi setup mode: Improv Wi-Fi (improv-wifi.com) over the console (Improv Serial,
# improvserial.py) and over BLE (improvble.py) until the board has Wi-Fi credentials that
# work, then a reset into the normal application. supervisor.main() enters it, before the
# runtime loads, when /config.json names no Wi-Fi network or the button is held at power-on
# (setuppress.py): a normal wake never loads this code.
#
# - Over BLE, Wi-Fi settings need an authorization: a press of the board's button opens a
#   1-minute window (Improv's suggestion); a failed attempt starts the window over. A board
#   without a button is authorized from the start. Over the console nothing is asked: whoever
#   holds the USB cable holds the board.
# - Wi-Fi settings are tried before they are kept: the station connects; a wrong password, an
#   absent network or no association within CONNECT_MS answers "unable to connect" (0x03)
#   and nothing is written. Only working settings go into /config.json, and the password
#   is never printed.
# - Identify (BLE) blinks the LED; device info names firmware, version, board/chip, device,
#   MicroPython and its version; scan lists the networks the station sees.
# - Without a client's command for WINDOW_MS the mode ends: a board that still has no Wi-Fi
#   sleeps until its button wakes it (and so comes back here), one that has Wi-Fi resets
#   into its application.
import sys
import gc
import time
import asyncio
import machine
import network
import devproto.improv as im
import store
import log
from board import Board
from micropython import const

WINDOW_MS = 600000
AUTH_MS = 60000
CONNECT_MS = 20000
_WDT_MS = const(30000)
_FAIL = ("STAT_WRONG_PASSWORD", "STAT_NO_AP_FOUND", "STAT_ASSOC_FAIL", "STAT_HANDSHAKE_TIMEOUT",
         "STAT_CONNECT_FAIL")


class Provisioner:
    def __init__(self, why):
        self.why = why
        self.board = Board()
        ident = store.read_json("/config.json", None)
        self.ident = ident if isinstance(ident, dict) else {}
        self.led = self.board.driver("led")
        self.button = self.board.pin("button")
        self.auth_until = None
        self.last = time.ticks_ms()
        self.state = im.AUTH_REQUIRED if self.button is not None else im.AUTHORIZED
        self.busy = False
        self.outcome = None
        self.done = asyncio.Event()
        self.press = asyncio.ThreadSafeFlag()
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        self.links = []
        self.low = None                 # the least heap free seen (docs/firmware.md "Heap")

    # ---- state and authorization ----------------------------------------------
    def authorized(self):
        if self.button is None:
            return True
        return self.auth_until is not None and time.ticks_diff(self.auth_until, time.ticks_ms()) > 0

    def set_state(self, s):
        self.state = s
        for link in self.links:
            link.send_state(im.AUTHORIZED if link.trusted and s == im.AUTH_REQUIRED else s)

    def _authorize(self):
        self.auth_until = time.ticks_add(time.ticks_ms(), AUTH_MS)
        if self.state == im.AUTH_REQUIRED:
            log.i("improv", "authorized for %d s (button)" % (AUTH_MS // 1000))
            self.set_state(im.AUTHORIZED)

    def _expire(self):
        if self.state == im.AUTHORIZED and not self.authorized():
            log.i("improv", "authorization expired")
            self.set_state(im.AUTH_REQUIRED)

    async def _buttons(self):
        from machine import Pin
        low = self.board.get("button_active_low", True)
        pin = Pin(self.button, Pin.IN, Pin.PULL_UP if low else Pin.PULL_DOWN)
        pin.irq(handler=lambda p: self.press.set(), trigger=Pin.IRQ_FALLING if low else Pin.IRQ_RISING)
        while True:
            await self.press.wait()
            self._authorize()

    # ---- commands ----------------------------------------------------------------
    def _heap(self):
        f = gc.mem_free()
        if self.low is None or f < self.low:
            self.low = f

    async def rpc(self, link, cmd, data):
        self._heap()
        self.last = time.ticks_ms()
        link.send_error(im.E_NONE)
        if cmd == im.WIFI:
            await self._wifi(link, data)
        elif cmd == im.DEVICE_INFO:
            link.send_result(im.DEVICE_INFO, self.device_info())
        elif cmd == im.SCAN:
            link.send_scan(self.scan())
        elif cmd == im.GET_STATE and link.trusted:         # serial's command 2
            link.send_state(im.AUTHORIZED if self.state == im.AUTH_REQUIRED else self.state)
            if self.state == im.PROVISIONED:
                link.send_result(im.WIFI, [])
        elif cmd == im.IDENTIFY and not link.trusted:      # BLE's command 2: no result
            log.i("improv", "identify")
            if self.led is not None:
                self.led.show("identify")
        else:
            link.send_error(im.E_UNKNOWN_RPC)

    async def _wifi(self, link, data):
        if not link.trusted and not self.authorized():
            log.w("improv", "Wi-Fi settings refused: not authorized (press the button)")
            link.send_error(im.E_NOT_AUTHORIZED)
            return
        try:
            ssid, password = im.parse_wifi(data)
        except ValueError:
            link.send_error(im.E_INVALID_RPC)
            return
        if self.busy:
            return
        self.busy = True
        self.set_state(im.PROVISIONING)
        log.i("improv", "trying Wi-Fi %s" % ssid)
        ok = await self.connect(ssid, password)
        self.busy = False
        if not ok:
            log.w("improv", "cannot connect to %s: nothing kept" % ssid)
            link.send_error(im.E_UNABLE_TO_CONNECT)
            if not link.trusted and self.button is not None:
                self.auth_until = time.ticks_add(time.ticks_ms(), AUTH_MS)     # the window starts over
            self.set_state(im.AUTHORIZED if self.authorized() else im.AUTH_REQUIRED)
            return
        self.ident["wifi"] = {"ssid": ssid, "password": password}
        store.write_json("/config.json", self.ident)
        log.i("improv", "Wi-Fi %s works: kept in /config.json" % ssid)
        self.set_state(im.PROVISIONED)
        link.send_result(im.WIFI, [])
        self.outcome = "provisioned"
        self.done.set()

    async def connect(self, ssid, password):
        w = self.wlan
        try:
            w.disconnect()
        except OSError:
            pass
        try:
            w.config(reconnects=2)         # an absent network ends in STAT_NO_AP_FOUND, not retries
        except (OSError, ValueError):
            pass
        fail = [getattr(network, n) for n in _FAIL if hasattr(network, n)]
        w.connect(ssid, password)
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < CONNECT_MS:
            await asyncio.sleep_ms(100)
            if w.isconnected():
                return True
            if w.status() in fail:
                break
        try:
            w.disconnect()
        except OSError:
            pass
        return False

    def device_info(self):
        ver = None
        try:
            ver = store.read_json(sys.path[0] + "/app.json", {}).get("version")
        except (AttributeError, IndexError):
            pass
        import binascii
        hw = binascii.hexlify(self.wlan.config("mac")).decode()
        name = self.ident.get("device_id") or "%s %s" % (self.ident.get("role") or "device", hw)
        v = sys.implementation.version
        return ["district-devices", ver or "0.0.0", "%s/%s" % (self.board.name, self.board.get("chip", "esp32")),
                name, "MicroPython", "%d.%d.%d" % (v[0], v[1], v[2])]

    def scan(self):
        seen = {}
        for e in self.wlan.scan():
            ssid = e[0].decode() if isinstance(e[0], bytes) else str(e[0])
            if ssid and (ssid not in seen or e[3] > seen[ssid][1]):
                seen[ssid] = (ssid, e[3], e[4])
        return sorted(seen.values(), key=lambda n: -n[1])

    # ---- the mode --------------------------------------------------------------------
    async def run(self):
        import improvserial
        self.links.append(improvserial.SerialLink())
        try:
            import improvble
            self.links.append(improvble.BleLink(self._name()))
        except Exception as ex:                # no BLE on this board: the console still works
            log.exc("improv", "BLE", ex)
        wdt = machine.WDT(timeout=_WDT_MS)
        gc.collect()
        log.i("improv", "provisioning mode (%s): Improv over %s; heap free %d" % (
            "no Wi-Fi configured" if self.why == "no_wifi" else "button held at power-on",
            " and ".join(link.kind for link in self.links), gc.mem_free()))
        if self.led is not None:
            self.led.show("unprovisioned")
        self.set_state(self.state)
        tasks = [asyncio.create_task(link.run(self)) for link in self.links]
        if self.button is not None:
            tasks.append(asyncio.create_task(self._buttons()))
        while not self.done.is_set():
            try:
                await asyncio.wait_for_ms(self.done.wait(), 1000)
            except asyncio.TimeoutError:
                pass
            wdt.feed()
            self._heap()
            self._expire()
            if not self.busy and time.ticks_diff(time.ticks_ms(), self.last) > WINDOW_MS:
                self.outcome = "timeout"
                break
        await asyncio.sleep_ms(1500)           # the client reads the last answer
        wdt.feed()
        self._heap()
        log.i("improv", "heap: least free %d (gc.mem_alloc %d now)" % (self.low, gc.mem_alloc()))
        for t in tasks:
            t.cancel()
        for link in self.links:
            link.close()
        return self.outcome

    def _name(self):
        import binascii
        return "Improv %s" % binascii.hexlify(self.wlan.config("mac")).decode()[-6:]


def main(why):
    p = Provisioner(why)
    outcome = asyncio.run(p.run())
    from bootstate import BootState
    BootState().mark_clean()
    if outcome == "provisioned" or (p.ident.get("wifi") or {}).get("ssid"):
        log.i("improv", "done: reset into the application")
        machine.reset()
    import power
    wake = power.arm_wake(p.board)
    log.i("improv", "no client for %d min: sleep until the button wakes the board" % (WINDOW_MS // 60000))
    if wake is None:
        machine.deepsleep(3600000)
    machine.deepsleep()
