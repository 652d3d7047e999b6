# Is the button held now, and for how long (supervisor.main() asks at a power-on or EN reset)?
# Held HOLD_MS: the technician's way into Wi-Fi setup mode on a board that has Wi-Fi. Let go
# sooner: a press like any other, which the runtime's button then counts (a call button's
# alarm: an elder may press while the board boots). Imported only then, and dropped before
# the runtime loads.
import time
import store
from micropython import const

HOLD_MS = const(5000)
# Roles whose board's "button" pin is not a button: a manhole cover's is the accelerometer's
# latched interrupt line (roles/beacon.WAKE_PIN_IS_BUTTON), low for as long as the lid moved.
_NOT_A_BUTTON = const(("beacon",))


def held(role=None):
    """None if the button is not held at this check; else how long it was held (ms, to within
    50), HOLD_MS if it still is then."""
    if role in _NOT_A_BUTTON:
        return None
    board = store.read_json("/board.json", None)
    p = (board.get("pins") or {}).get("button") if isinstance(board, dict) else None
    if not isinstance(p, int):
        return None
    from machine import Pin
    low = board.get("button_active_low", True)
    pin = Pin(p, Pin.IN, Pin.PULL_UP if low else Pin.PULL_DOWN)
    if pin.value() != (0 if low else 1):
        return None
    t0 = time.ticks_ms()
    while pin.value() == (0 if low else 1):
        if time.ticks_diff(time.ticks_ms(), t0) >= HOLD_MS:
            return HOLD_MS
        time.sleep_ms(50)
    return time.ticks_diff(time.ticks_ms(), t0)
