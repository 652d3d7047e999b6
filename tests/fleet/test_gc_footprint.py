"""What the fleet keeps per device in memory costs a full garbage collection nothing per device.

A full collection walks every tracked container with the event loop frozen. With per-device
lists, dicts and objects in the caches it took 50-170 ms every few seconds on a 10,000-device
fleet, and every alarm in flight waited (docs/performance.md). The caches hold plain values:
exact tuples of strings and numbers, dicts of those, orjson fragments - which CPython does not
track - so the walk from each cache is the same for 5 devices as for 10,000.
"""

import gc

from fleetkit import collector_walk, enroll, heartbeat

DEVICES = 120


def test_the_per_device_caches_cost_a_full_collection_nothing_per_device(client, db):
    devices = [enroll(client, db) for _ in range(DEVICES)]
    for device in devices:                 # every cache fills: identity, rate, stream, downlink
        assert device.hello().status_code == 200
        assert device.events([heartbeat(1)]).status_code == 200
        assert device.poll(cursor=0, wait=1).status_code == 200
    rt = client.app.state.fleet
    gc.collect()                            # a tuple of plain values is untracked at its first one
    # the containers that grow with the fleet (private: what they hold is the point here)
    caches = {"identities": rt.directory._cache, "downlinks": rt.downlink._cache,
              "request budgets": (rt.rate._tokens, rt.rate._refilled),
              "replay nonces": (rt.nonces._expiry, rt.nonces._buckets), "stream acks": rt.writer.cache}
    assert len(rt.directory._cache) >= DEVICES and len(rt.writer.cache["streams"]) >= DEVICES
    tracked = {name: collector_walk(cache)[0] for name, cache in caches.items()}
    assert all(n <= 3 for n in tracked.values()), tracked       # the containers, not their devices
