# Is the button held for HOLD_MS now (supervisor.main() asks at a power-on or EN reset)? The
# technician's way into Wi-Fi setup mode on a board that has Wi-Fi. Imported only then, and
# dropped before the runtime loads.
import time
import store
from micropython import const

HOLD_MS = const(5000)


def held():
    board = store.read_json("/board.json", None)
    p = (board.get("pins") or {}).get("button") if isinstance(board, dict) else None
    if not isinstance(p, int):
        return False
    from machine import Pin
    low = board.get("button_active_low", True)
    pin = Pin(p, Pin.IN, Pin.PULL_UP if low else Pin.PULL_DOWN)
    t0 = time.ticks_ms()
    while pin.value() == (0 if low else 1):
        if time.ticks_diff(time.ticks_ms(), t0) >= HOLD_MS:
            return True
        time.sleep_ms(50)
    return False
