"""The world of a virtual smart bin, host side: a district bin's fill, and the accelerometer that
stays powered while the ESP32 sleeps.

DistrictFollower: with world `district_bin` = "SEED:ID" the board's bin is that bin of the
seeded district (district.py) - its fill process (rates by type, spot, hour and weekday, busy
days, noise) runs at `district_speed` simulated seconds per real second and sets
`bin_fill_pct`, which the board's distance sensor sees (shims/_vbsim.target_cm). Setting
`bin_fill_pct` by hand (a crew emptying it: 0) moves the district bin's level too.

Accelerometer wake: an accelerometer armed for motion (its register model's armed_mg(), sent
with the deep-sleep message) keeps watching while the chip sleeps, as the real chip does on its
own supply. A change of the world's tilt that moves gravity by more than the threshold, or
shaking above it, latches its INT line high; with that pin (board.json pins.accel_int) in the
board's ext1 mask the board wakes (EXT1_WAKE). The board reading the chip's interrupt status
releases the line (the shim sends `accel_int`). While the board is awake the interrupt is not
simulated (the smart bin role reads the tilt itself then).
"""

import asyncio
import importlib.util
import math
import time
from pathlib import Path

from .errors import VBoardError

TICK_S = 1.0                    # real seconds between updates of a followed bin
STEP_S = 900                    # simulated seconds per fill step (the district's sample step)


def parse_bin(spec):
    """(seed, bin index) of "SEED:B0003" (or "SEED:3")."""
    try:
        seed, _, ident = str(spec).partition(":")
        index = int(ident.lstrip("Bb"))
        if index < 0 or index > 100000:
            raise ValueError
        return int(seed), index
    except ValueError:
        raise VBoardError("district_bin must be SEED:ID, e.g. 1:B0003, not %r" % (spec,))


class DistrictFollower:
    def __init__(self, spec, now=None):
        from . import district
        seed, index = parse_bin(spec)
        self.spec = spec
        self.bin = district.make_district(index + 1, seed)[index]
        self.real0 = time.time() if now is None else now
        self.sim = self.real0                       # the district's clock starts at the board's
        self.task = None

    def advance(self, speed, now=None):
        """Run the bin's fill up to now (real) at speed; its fill %."""
        now = time.time() if now is None else now
        target = self.sim + max(0.0, now - self.real0) * speed
        self.real0 = now
        while self.sim < target:
            dt = min(STEP_S, target - self.sim)
            self.bin.advance(self.sim, dt)
            self.sim += dt
        return round(min(self.bin.level, 150.0), 1)

    def set_level(self, pct):
        self.bin.level = float(pct)
        if pct < 100:
            self.bin.over = False


def start_following(board, spec):
    """Follow spec (None: stop) on a board runtime: a task that sets its bin_fill_pct."""
    old = getattr(board, "district", None)
    if old is not None and old.task is not None:
        old.task.cancel()
    board.district = None
    if spec is None:
        return
    follower = DistrictFollower(spec)
    if board.world.get("bin_fill_pct") is not None:
        follower.set_level(board.world["bin_fill_pct"])
    board.district = follower

    async def run():
        while True:
            pct = follower.advance(board.world.get("district_speed") or 0.0)
            if pct != board.world.get("bin_fill_pct"):
                board.world["bin_fill_pct"] = pct
                board.send_board({"op": "world", "world": {"bin_fill_pct": pct}})
            await asyncio.sleep(TICK_S)
    follower.task = asyncio.get_running_loop().create_task(run())


def _physics():
    # the shims' physics module, loaded by path (the shims folder must not go on CPython's path:
    # it holds MicroPython's machine.py, time.py, os.py)
    spec = importlib.util.spec_from_file_location("vb_vbsim", Path(__file__).parent / "shims" / "_vbsim.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_vbsim = _physics()


def gravity(world):
    return _vbsim.gravity_g(world.get("tilt_deg", 0.0), world.get("tilt_axis", "x"))


def moved_g(before, after):
    """How far gravity moved between two worlds (g) - or the shaking, whichever is larger."""
    a, b = gravity(before), gravity(after)
    return max(math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b))), after.get("vibration_g") or 0.0)


def check(values):
    """Refuse a district_bin that names no bin, before anything changes."""
    if values.get("district_bin") is not None:
        parse_bin(values["district_bin"])


def on_world_change(board, before, changed):
    """After set_world: a followed bin follows a hand-set fill; a sleeping board's armed
    accelerometer latches its INT line on motion above its threshold."""
    if "district_bin" in changed:
        start_following(board, changed["district_bin"])
    elif "bin_fill_pct" in changed and getattr(board, "district", None) is not None and \
            changed["bin_fill_pct"] is not None:
        board.district.set_level(changed["bin_fill_pct"])
    sleep = board.sleep
    pin = board.pins.get("accel_int")
    if board.state != "sleeping" or not sleep or not sleep.get("accel_mg") or pin is None:
        return
    if moved_g(before, board.world) * 1000 > sleep["accel_mg"]:
        board.note("accelerometer: motion above %d mg: INT (GPIO%d) latched high" % (sleep["accel_mg"], pin))
        board.set_levels({pin: 1})
