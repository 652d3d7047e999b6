"""The virtual ESP32 board: real MicroPython (unix port) + ESP32 API shims + a simulated world.

    from boards.virtual import BoardFarm
    with BoardFarm("var/vboards") as farm:
        b = farm.create("cb-1", role="call_button", config={...})
        b.start(); b.expect("boot:"); b.press(200); b.wait_led(True)

See docs/virtual-board.md.
"""

from .api import BoardFarm, ConsoleMatch, VirtualBoard
from .errors import ExpectTimeout, HostNotRunning, VBoardError
from .world import WORLD

__all__ = ["BoardFarm", "ConsoleMatch", "VirtualBoard", "ExpectTimeout", "HostNotRunning", "VBoardError", "WORLD"]
