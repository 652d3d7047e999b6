# Is this boot for Wi-Fi provisioning? Yes when /config.json names no Wi-Fi network, or when
# the button is held for LONG_MS at a power-on or an EN reset (not at a deep-sleep wake: that
# press is a call button's alarm). Runs at every boot, so it is small; the Improv code
# (improvmode.py and what it loads) is imported only when this says yes.
import time
import store
from micropython import const

_LONG_MS = const(5000)


def reason():
    """"no_wifi", "long_press" or None."""
    ident = store.read_json("/config.json", None)
    w = ident.get("wifi") if isinstance(ident, dict) else None
    if not (isinstance(w, dict) and w.get("ssid")):
        return "no_wifi"
    try:
        import machine
        if machine.reset_cause() not in (machine.PWRON_RESET, machine.HARD_RESET):
            return None
        board = store.read_json("/board.json", None) or {}
        p = (board.get("pins") or {}).get("button")
        if not isinstance(p, int):
            return None
        low = board.get("button_active_low", True)
        pin = machine.Pin(p, machine.Pin.IN, machine.Pin.PULL_UP if low else machine.Pin.PULL_DOWN)
        down = 0 if low else 1
        t0 = time.ticks_ms()
        while pin.value() == down:
            if time.ticks_diff(time.ticks_ms(), t0) >= _LONG_MS:
                return "long_press"
            time.sleep_ms(50)
    except (ImportError, AttributeError, ValueError, OSError):
        pass
    return None
