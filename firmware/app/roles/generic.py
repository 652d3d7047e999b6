# Generic role: heartbeat every heartbeat_min, telemetry every report_min, a
# telemetry event on a button press. Used by unit tests and the virtual board, and
# by any board whose role module does not exist yet. Sleeps between reports when
# config.json says "power": "battery"; otherwise stays awake (long-poll running).
# On battery it only watches the button when the button woke it (drivers are
# loaded on first use: a timer wake loads no button, LED or buzzer code).
import gc
import asyncio
import log

rt = None
_busy = True


def setup(runtime):
    global rt
    rt = runtime


def _heartbeat():
    data = {"interval_min": rt.cfg["heartbeat_min"]}
    if rt.battery is not None:
        v = rt.battery.read()
        if v is not None:
            data["battery_v"] = v
    rssi = rt.wifi.rssi() if rt.wifi is not None else None
    if isinstance(rssi, int):
        data["rssi"] = rssi
    rt.emit("heartbeat", data)


def _telemetry(extra=None):
    data = {"heap_free": gc.mem_free(), "uptime_s": log.uptime_ms() // 1000}
    if extra:
        data.update(extra)
    rt.emit("telemetry", data)


async def run():
    global _busy
    while True:
        _busy = True
        if rt.due("heartbeat", rt.cfg["heartbeat_min"] * 60):
            _heartbeat()
        if rt.due("telemetry", rt.cfg["report_min"] * 60):
            _telemetry()
        _busy = False
        wait = min(next_wake_ms(), 60000)
        btn = rt.button if rt.woke_by_pin or not rt.battery_powered else None
        ev = await btn.get(wait) if btn is not None else await asyncio.sleep_ms(wait)
        if ev is not None and ev[0] in ("press", "long"):
            _busy = True
            if rt.led is not None:
                rt.led.show("press")
            _telemetry({"button_ms": ev[1]})


def should_sleep():
    return rt.battery_powered and not _busy


def next_wake_ms():
    return max(1000, min(rt.ms_until("heartbeat", rt.cfg["heartbeat_min"] * 60),
                         rt.ms_until("telemetry", rt.cfg["report_min"] * 60)))


def self_test():
    return True, "generic ok"
