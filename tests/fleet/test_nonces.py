"""Replay protection: bounded, forgetting only what the clock window already refuses,
and kept across a restart."""

import os
import signal
import time

import devproto
import httpx
from fastapi.testclient import TestClient

from fleet.domain.nonces import NonceCache
from fleet.main import create_app
from fleetkit import HELLO, collector_walk, enroll, start_server

NOW = 2_000_000_000


def test_a_nonce_is_refused_twice_per_device_only():
    cache = NonceCache(capacity=100)
    assert cache.add("cb-1", "aaaaaaaa", NOW, NOW)
    assert not cache.add("cb-1", "aaaaaaaa", NOW + 5, NOW + 5)
    assert cache.add("cb-2", "aaaaaaaa", NOW, NOW)


def test_nonces_are_forgotten_once_their_timestamp_is_out_of_the_window():
    cache = NonceCache(capacity=100, window=300)
    cache.add("cb-1", "aaaaaaaa", NOW - 200, NOW)
    cache.add("cb-1", "bbbbbbbb", NOW + 200, NOW)
    assert len(cache) == 2
    cache.add("cb-1", "cccccccc", NOW + 150, NOW + 150)
    assert len(cache) == 2                      # aaaaaaaa expired at NOW + 100
    assert not cache.add("cb-1", "bbbbbbbb", NOW + 200, NOW + 150)


def test_a_full_cache_costs_the_garbage_collector_its_seconds_not_its_nonces():
    cache = NonceCache(capacity=1_000_000, window=300)
    for i in range(60_000):                    # 200 requests a second for 300 s
        cache.add("cb-%d" % (i % 10_000), "%08x" % i, NOW + i // 200, NOW)
    assert len(cache) == 60_000
    assert collector_walk(cache)[1] < 2_000     # ~300 buckets, not 60,000 keys


def test_a_full_cache_stays_bounded_and_refuses_what_it_cannot_vouch_for():
    cache = NonceCache(capacity=3, window=300)
    for i, stamp in enumerate((NOW - 100, NOW - 50, NOW, NOW + 10)):
        assert cache.add("cb-1", "n%07d" % i, stamp, NOW)
    assert len(cache) == 3
    assert cache.floor == NOW - 100 + 300       # the oldest went; the floor rose to its expiry
    assert not cache.add("cb-1", "n0000000", NOW - 100, NOW)   # might be a replay: refused
    assert not cache.add("cb-1", "fresh000", NOW - 100, NOW)   # so is anything as old
    assert cache.add("cb-1", "fresh001", NOW - 10, NOW)        # a current request is fine


def test_dump_and_load():
    cache = NonceCache()
    cache.add("cb-1", "aaaaaaaa", NOW, NOW)
    again = NonceCache()
    again.load(cache.dump(NOW), NOW)
    assert not again.add("cb-1", "aaaaaaaa", NOW, NOW + 1)
    assert again.load([("cb-1", "bbbbbbbb", NOW - 1)], NOW) is None and len(again) == 1


def test_replay_is_refused_after_a_restart(client, device, settings):
    first = device.request("POST", devproto.PATH_HELLO, HELLO, nonce="0123456789abcdef")
    assert first.status_code == 200
    client.__exit__(None, None, None)           # graceful stop: nonces saved
    with TestClient(create_app(settings)) as again:
        device.http = again
        replay = device.request("POST", devproto.PATH_HELLO, HELLO, nonce="0123456789abcdef")
        assert replay.status_code == 409 and replay.json()["error"]["code"] == "replay"


def test_no_replay_gets_through_a_crash(settings, db):
    # kill -9: the nonces of the last minutes were never saved. A request captured before the
    # crash is refused after it; the device's fresh request is served.
    proc, url = start_server(settings.db)
    try:
        http = httpx.Client(base_url=url, timeout=10)
        device = enroll(http, db)
        captured = dict(nonce="feedface01234567", timestamp=int(time.time()) - 1)
        assert device.request("POST", devproto.PATH_HELLO, HELLO, **captured).status_code == 200
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc, url = start_server(settings.db)
        device.http = httpx.Client(base_url=url, timeout=10)
        replay = device.request("POST", devproto.PATH_HELLO, HELLO, **captured)
        assert replay.status_code == 409 and replay.json()["error"]["code"] == "replay"
        assert "sign again" in replay.json()["error"]["message"]
        assert device.request("POST", devproto.PATH_HELLO, HELLO).status_code == 200
    finally:
        proc.kill()
        proc.wait(10)


def test_a_clean_restart_does_not_refuse_recent_requests(client, device, settings):
    signed_earlier = dict(nonce="0badc0de0badc0de", timestamp=int(time.time()) - 5)
    client.__exit__(None, None, None)           # graceful stop: nonces saved, run marked stopped
    with TestClient(create_app(settings)) as again:
        device.http = again
        assert device.request("POST", devproto.PATH_HELLO, HELLO, **signed_earlier).status_code == 200

