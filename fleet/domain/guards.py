"""Update guards: whether a device may install an update now, asked by OTA of every capability
through the core, so OTA never imports care (docs/architecture.md "Update guards").

    from fleet.domain.guards import register_update_guard
    register_update_guard(lambda conn, device_id, role: "alarm_open" if ... else None)

fn(conn, device_id, role) runs on whatever thread the rollout engine uses, with a read connection;
it must be quick and read-only, and returns a reason code (why not now) or None. The device checks
again on its own side before it installs (firmware/app/ota.py asks its role's may_update()).
"""

_guards = []


def register_update_guard(fn):
    """Add a guard; returns a function that removes it."""
    _guards.append(fn)
    return lambda: _guards.remove(fn)


def update_blocked(conn, device_id, role):
    """The first guard's reason why device_id may not update now, or None."""
    for fn in _guards:
        reason = fn(conn, device_id, role)
        if reason:
            return reason
    return None
