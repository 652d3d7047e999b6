"""Raising an alarm from any capability, without importing the one that keeps alarms.

The alarm lifecycle (console, escalation, webhooks) belongs to care (fleet/care/alarms.py), and
a capability never imports another (tests/fleet/test_layout.py). So the core holds this small
registry: care registers the sink that turns a request into an alarm, and a capability that
detects a hazard - waste's `fire` event - calls raise_alarm inside its ingest transaction:

    from fleet.domain.alarmsink import raise_alarm
    raise_alarm(tx, device_id, "fire", group="waste", ref="fire-%d" % event["seq"], detail={...})

The alarm then goes through the same lifecycle as a call (escalation, acknowledge, resolve,
webhooks `alarm.*`). With no sink registered (a fleet without care) the call logs and returns
None: the event itself is stored either way.
"""

import logging

log = logging.getLogger("fleet.alarms")
_sink = []


def register_alarm_sink(fn):
    """fn(tx, device_id, kind, group, ref, detail) -> alarm id or None. One sink; a new one replaces it."""
    _sink[:] = [fn]


def raise_alarm(tx, device_id, kind, group=None, ref=None, detail=None):
    """An urgent alarm of `kind` for the device (once per ref), heard first by `group`."""
    if not _sink:
        log.warning("alarm %s for %s not raised: no alarm pipeline in this fleet", kind, device_id)
        return None
    return _sink[0](tx, device_id, kind, group, ref, detail)
