"""An ack means "on disk": kill -9 the server while devices are sending, reopen the database,
and every acknowledged event is there; a restarted server carries on from the same acks."""

import os
import signal
import sqlite3
import threading

import httpx

from fleetkit import enroll, heartbeat, start_server


def test_every_acked_event_survives_kill_9(settings, db):
    proc, url = start_server(settings.db)
    acks = {}           # device id -> highest ack the server sent
    refusals = []
    stop = threading.Event()
    enough = threading.Event()
    try:
        http = httpx.Client(base_url=url, timeout=10)
        devices = [enroll(http, db) for _ in range(6)]

        def send(device):
            client = httpx.Client(base_url=url, timeout=10)
            device = type(device)(client, device.id, device.secret)
            seq = 0
            while not stop.is_set():
                batch = [heartbeat(seq + i + 1) for i in range(3)]
                try:
                    response = device.events(batch)
                except httpx.HTTPError:
                    return                      # the server is gone
                if response.status_code != 200:
                    refusals.append(response.text)
                    return
                acks[device.id] = response.json()["ack"]
                seq += 3
                if sum(acks.values()) > 600:
                    enough.set()

        threads = [threading.Thread(target=send, args=(d,)) for d in devices]
        for t in threads:
            t.start()
        assert enough.wait(60), "devices could not send"
        os.kill(proc.pid, signal.SIGKILL)        # mid-traffic: requests are in flight
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert refusals == []
    after = sqlite3.connect(settings.db)
    for device_id, ack in acks.items():
        stored = {r[0] for r in after.execute("SELECT seq FROM events WHERE device_id = ?", (device_id,))}
        assert set(range(1, ack + 1)) <= stored, device_id
    after.close()

    proc, url = start_server(settings.db)
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            device = devices[0]
            device.http = http
            body = device.hello(stream=1).json()
            assert body["ack"] >= acks[device.id]
            # resending everything up to the ack stores nothing new
            again = device.events([heartbeat(s) for s in range(1, min(acks[device.id], 50) + 1)]).json()
            assert again["stored"] == 0 and again["ack"] == body["ack"]
    finally:
        proc.terminate()
        proc.wait(10)
