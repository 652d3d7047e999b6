"""Service loops wait for their wake events with fleet.core.waiting.within, and a shutdown ends
them whenever it comes - also at the moment the event fires (where asyncio.wait_for loses the
cancel on Python 3.11 and the app's shutdown waits forever)."""

import asyncio
import re
from pathlib import Path

import pytest

from fleet.core.waiting import within

FLEET = Path(__file__).resolve().parents[2] / "fleet"


async def _cancel_as_it_fires(steps):
    """A service loop like the fleet's; its event fires, `steps` turns of the loop later it is
    cancelled. True if it ended."""
    wake = asyncio.Event()

    async def service():
        while True:
            await within(wake.wait(), 10)
            wake.clear()

    task = asyncio.create_task(service())
    for _ in range(3):
        await asyncio.sleep(0)
    wake.set()
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    return task in done and task.cancelled()


@pytest.mark.parametrize("steps", range(8))
def test_a_shutdown_at_the_moment_the_wake_fires_ends_the_loop(steps):
    assert asyncio.run(_cancel_as_it_fires(steps))


def test_within_says_whether_it_finished_in_time():
    async def main():
        ev = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, ev.set)
        fired = await within(ev.wait(), 5)
        late = await within(asyncio.Event().wait(), 0.01)
        return fired, late

    assert asyncio.run(main()) == (True, False)


def test_the_fleet_never_waits_with_asyncio_wait_for():
    uses = [f"{p.relative_to(FLEET.parent)}:{n}" for p in FLEET.rglob("*.py")
            for n, line in enumerate(p.read_text().splitlines(), 1)
            if re.search(r"\bwait_for\(", line) and not line.lstrip().startswith("#")]
    assert uses == []
