# LoopWatch: stands in for the light and tone - a task that wants to run every 20 ms and
# records the longest it had to wait. A blocking call on the loop (a DNS lookup) shows up as
# a long gap. MicroPython test helper.
import time
import asyncio


class LoopWatch:
    def __init__(self):
        self.worst = 0
        self.task = asyncio.create_task(self.run())

    async def run(self):
        last = time.ticks_ms()
        while True:
            await asyncio.sleep_ms(20)
            now = time.ticks_ms()
            self.worst = max(self.worst, time.ticks_diff(now, last))
            last = now

    def stop(self):
        self.task.cancel()
        return self.worst
