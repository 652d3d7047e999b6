"""The group-commit writer's queue: what may hold an alarm.

A real writer thread on a real SQLite file. The writer is held busy by one job (a stand-in for
a slow commit) while work of every class queues up behind it; then it is let go and the tests
read which group (commit) each job ran in, and in what order.
"""

import asyncio
import json
import threading

from fleet.domain import status
from fleet.domain.writer import BULK, BULK_ROWS, NORMAL, URGENT, GroupCommitWriter
from fleet.schema import open_db


def add_devices(db, n):
    db.conn.execute("BEGIN")
    db.conn.executemany("INSERT INTO devices (id, hw_id, role, secret_enc, config) VALUES (?, ?, 'smart_bin', x'00', '{}')",
                        [("sb-%010d" % i, "%012d" % i) for i in range(n)])
    db.conn.execute("COMMIT")


def run_with_writer(db_path, scenario):
    """scenario(writer, hold) in an event loop with a started writer; hold() blocks the writer
    until the returned release() is called."""
    async def main():
        loop = asyncio.get_running_loop()
        writer = GroupCommitWriter(db_path, loop, lambda changed: None)
        writer.start()

        async def hold():
            started, release = threading.Event(), threading.Event()

            def blocker(tx):
                started.set()
                release.wait(10)
            fut = writer.call(blocker)
            await loop.run_in_executor(None, started.wait, 10)
            return fut, release.set

        try:
            return await scenario(writer, hold)
        finally:
            writer.stop()
    return asyncio.run(main())


def test_urgent_first_and_one_bulk_slice_per_group(settings, db):
    ran = []        # (label, group): group = commits done before the job's transaction

    def job(label, writer):
        return lambda tx: ran.append((label, writer.commits))

    async def scenario(writer, hold):
        blocked, release = await hold()
        futures = [writer.call(job("bulk-%d" % i, writer), BULK) for i in range(3)]
        futures += [writer.call(job("normal-%d" % i, writer), NORMAL) for i in range(4)]
        futures.append(writer.call(job("urgent", writer), URGENT))   # arrives last, runs first
        release()
        await asyncio.gather(blocked, *futures)

    run_with_writer(settings.db, scenario)
    assert ran == [("urgent", 1), ("normal-0", 1), ("normal-1", 1), ("normal-2", 1), ("normal-3", 1),
                   ("bulk-0", 1), ("bulk-1", 2), ("bulk-2", 3)]


def test_fleet_sized_last_seen_save_never_holds_an_alarm(settings, db):
    # 10,000 devices heard from since the last save: the save is cut into slices, and an alarm
    # queued behind the whole save commits after at most one slice - not after all of them.
    add_devices(db, 10_000)
    seen = {"sb-%010d" % i: 2_000_000_000.0 + i for i in range(10_000)}
    done = {}

    async def scenario(writer, hold):
        blocked, release = await hold()
        save = asyncio.ensure_future(status.save(writer, [], seen))
        await asyncio.sleep(0)              # the save's slices are queued first
        alarm = writer.call(lambda tx: done.setdefault("alarm", writer.commits), URGENT)
        release()
        await asyncio.gather(blocked, alarm, save)
        done["save"] = writer.commits

    run_with_writer(settings.db, scenario)
    slices = -(-len(seen) // BULK_ROWS)
    assert done["alarm"] == 1                       # the group right after the blocker
    assert done["save"] == 1 + slices               # one slice per group
    stored = dict(db.conn.execute("SELECT id, last_seen FROM devices"))
    assert stored["sb-0000000000"] == "2033-05-18T03:33:20.000Z"
    assert stored["sb-0000009999"] == "2033-05-18T06:19:59.000Z"
    assert all(stored.values())


def test_status_changes_stored_in_one_statement_skip_revoked(settings, db):
    add_devices(db, 3)
    db.conn.execute("UPDATE devices SET revoked_at = '2024-01-01T00:00:00.000Z' WHERE id = 'sb-0000000002'")
    changes = [status.StatusChange("sb-%010d" % i, "smart_bin", "online", "offline", "2026-12-06T12:00:00.000Z")
               for i in range(3)]

    async def scenario(writer, hold):
        await status.save(writer, changes, {})

    run_with_writer(settings.db, scenario)
    assert dict(db.conn.execute("SELECT id, status FROM devices")) == {
        "sb-0000000000": "offline", "sb-0000000001": "offline", "sb-0000000002": "never_seen"}


def test_a_refused_job_is_not_logged_as_a_failure(settings, db, caplog):
    from fleet.errors import Conflict

    def refuse(tx):
        raise Conflict("alarm 1 was already acknowledged")

    async def scenario(writer, hold):
        results = await asyncio.gather(writer.call(refuse, URGENT), writer.call(lambda tx: json.dumps([1])),
                                       return_exceptions=True)
        return results

    refused, fine = run_with_writer(settings.db, scenario)
    assert isinstance(refused, Conflict) and fine == "[1]"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_what_makes_a_request_urgent():
    from fleet.care import alarms  # noqa: F401  (registers the alarm handlers as urgent)
    from fleet.domain.identity import DeviceIdentity
    from fleet.domain.ingest import EventsJob, HelloJob

    button = DeviceIdentity("cb-1", "aabbccddeeff", "call_button", "esp32-devkitc", None, 1, False, b"k" * 32, 0.0)
    heartbeat = {"seq": 1, "t": 0, "type": "heartbeat", "data": {}}
    alarm = {"seq": 2, "t": 0, "type": "alarm", "data": {"ref": "r-1"}}
    cancel = {"seq": 3, "t": 0, "type": "alarm_cancel", "data": {"ref": "r-1"}}
    assert EventsJob(button, 0, [heartbeat]).priority == NORMAL
    assert EventsJob(button, 0, [heartbeat, alarm]).priority == URGENT
    assert EventsJob(button, 0, [cancel]).priority == URGENT
    assert HelloJob(button, {"wake_reason": "pin"}, 0).priority == URGENT       # woken by a press
    assert HelloJob(button, {"wake_reason": "timer"}, 0).priority == NORMAL     # a heartbeat wake
