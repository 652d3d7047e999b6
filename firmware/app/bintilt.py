# The smart bin tilted past tilt_deg (docs/smart-bins.md "tilt"): wait up to tilt_s. Still
# tilted: `tilted` on (knocked over); back within it: a lid opening (`lid_open` with
# lid_events). Upright again later: `tilted` off. Loaded by roles/smart_bin.py only when the bin
# is tilted or was knocked over, and dropped after: most wakes never need it.
import time
import asyncio
import log


async def watch(rt, s, deg, read):
    """deg: the tilt now; read(): the tilt again (None: the accelerometer failed); s: the role's
    RTC state ("tr": knocked over reported)."""
    c = rt.cfg
    if deg < c["tilt_deg"]:
        if s.get("tr"):
            s["tr"] = 0
            rt.emit("tilted", {"deg": deg, "on": False})
        return
    if s.get("tr"):
        return
    rt.stay_awake("tilt")
    t0 = time.ticks_ms()
    try:
        while time.ticks_diff(time.ticks_ms(), t0) < c["tilt_s"] * 1000:
            await asyncio.sleep_ms(1000)
            deg = read()
            if deg is None:
                return
            if deg < c["tilt_deg"]:
                if c["lid_events"]:
                    rt.emit("lid_open", {"s": time.ticks_diff(time.ticks_ms(), t0) // 1000})
                return
        s["tr"] = 1
        rt.emit("tilted", {"deg": deg, "on": True})
        log.w("bin", "tilted %d deg" % deg)
    finally:
        rt.allow_sleep("tilt")
