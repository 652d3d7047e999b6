"""What a bin's events do, in the ingest transaction (handlers run once per stored event):
`fill` and `emptied` go into the fill history and the bin's state; `emptied` confirms the open
stop of a collection plan (the crew's mark is only a claim until the bin says it); `fire`
raises an urgent alarm through the core's alarm sink (the alarm lifecycle is care's; this
package never imports it); `tilted` and `sensor_fault` open maintenance for technicians, closed
again by `tilted` back up and by a good reading. Events of devices not attached to a bin are
stored by the core and otherwise ignored here, until the device is attached: then its last
`fill` becomes the bin's state (adopt_last_fill).
"""

import json
from types import SimpleNamespace

from fleet.domain.alarmsink import raise_alarm
from fleet.domain.ingest import register_event_handler
from fleet.domain.status import register_status_rule
from fleet.waste import bins

FIRE_GROUP = "waste"            # who hears of a fire first (webhooks with group "waste", the console)
EMPTY_PCT = 10                  # a fill this low once a stop's shift has begun: the bin was emptied


def _state(tx, bin_id, **values):
    cols = ", ".join(values)
    tx.conn.execute("INSERT INTO bin_state (bin_id, %s) VALUES (?, %s) ON CONFLICT (bin_id) DO UPDATE SET %s"
                    % (cols, ", ".join("?" * len(values)), ", ".join("%s = excluded.%s" % (c, c) for c in values)),
                    (bin_id, *values.values()))


def _open(tx, bin_id, kind, detail):
    if tx.conn.execute("SELECT 1 FROM waste_maintenance WHERE bin_id = ? AND kind = ? AND closed_at IS NULL",
                       (bin_id, kind)).fetchone() is None:
        tx.conn.execute("INSERT INTO waste_maintenance (bin_id, kind, detail, opened_at) VALUES (?, ?, ?, ?)",
                        (bin_id, kind, detail, tx.now_iso))


def _close(tx, bin_id, kind):
    tx.conn.execute("UPDATE waste_maintenance SET closed_at = ? WHERE bin_id = ? AND kind = ? AND closed_at IS NULL",
                    (tx.now_iso, bin_id, kind))


def on_fill(tx, device, event):
    bin_id = bins.by_device(tx.conn, device.id)
    if bin_id is not None:
        _fill(tx, bin_id, event)


def _fill(tx, bin_id, event, confirm=True):
    d = event["data"]
    tx.conn.execute("INSERT INTO bin_fills (bin_id, t, pct, q, mm, temp_c, kind) VALUES (?, ?, ?, ?, ?, ?, 'fill')",
                    (bin_id, event["t"], d.get("pct"), d["q"], d.get("mm"), d.get("temp_c")))
    values = {"t": event["t"], "q": d["q"], "temp_c": d.get("temp_c"), "battery_v": d.get("battery_v")}
    if d.get("pct") is not None:
        values["pct"] = d["pct"]
    cur = tx.conn.execute("SELECT status FROM bin_state WHERE bin_id = ?", (bin_id,)).fetchone()
    if cur is None or cur[0] in (None, "ok", "lidOpen"):
        values["status"] = "ok"
    _state(tx, bin_id, **values)
    if d["q"] in ("ok", "too_close"):
        _close(tx, bin_id, "sensor_fault")
    if confirm and d.get("pct") is not None and d["pct"] <= EMPTY_PCT:
        # a bin collected at a low fill drops less than the board's empty_drop_pct: no `emptied`,
        # but reading empty once its shift has begun confirms the stop just the same
        _confirm(tx, bin_id, event["t"])


def adopt_last_fill(conn, now_iso, bin_id, device_id):
    """A device attached to a bin after it reported: its last `fill` (if newer than what the bin
    shows) becomes the bin's state and history. Else a bin registered after its board's first
    report shows no fill until the board reports a change - hours with fill_report_h. A reading
    from before the attachment confirms no collection stop."""
    # `+type`: the device's own events (its index), not every fill of the fleet newest first
    # (the type index SQLite picks otherwise: 106 ms per new board among 600,000 events, 0.03 ms so)
    found = conn.execute("SELECT t_device, data FROM events WHERE device_id = ? AND +type = 'fill' "
                         "ORDER BY id DESC LIMIT 1", (device_id,)).fetchone()
    if found is None:
        return
    shown = conn.execute("SELECT t FROM bin_state WHERE bin_id = ?", (bin_id,)).fetchone()
    if shown is not None and shown[0] is not None and shown[0] >= found[0]:
        return
    _fill(SimpleNamespace(conn=conn, now_iso=now_iso), bin_id, {"t": found[0], "data": json.loads(found[1])},
          confirm=False)


def _confirm(tx, bin_id, begun_by=None):
    """The bin's open stops are done (only those of plans whose shift began by begun_by, if given)."""
    tx.conn.execute("UPDATE waste_stops SET state = 'confirmed', confirmed_at = ? WHERE bin_id = ? AND "
                    "state IN ('planned', 'collected', 'no_access') AND plan_id IN "
                    "(SELECT id FROM waste_plans WHERE shift_start <= ?)",
                    (tx.now_iso, bin_id, 2 ** 62 if begun_by is None else begun_by))


def on_emptied(tx, device, event):
    bin_id = bins.by_device(tx.conn, device.id)
    if bin_id is None:
        return
    d = event["data"]
    tx.conn.execute("INSERT INTO bin_fills (bin_id, t, pct, q, kind) VALUES (?, ?, ?, 'ok', 'emptied')",
                    (bin_id, event["t"], d["to"]))
    _state(tx, bin_id, t=event["t"], pct=d["to"], emptied_t=event["t"])
    _confirm(tx, bin_id)


def on_fire(tx, device, event):
    bin_id = bins.by_device(tx.conn, device.id)
    d = event["data"]
    raise_alarm(tx, device.id, "fire", group=FIRE_GROUP, ref="fire-%d-%d" % (event["stream"], event["seq"]),
                detail={"bin": bin_id, "temp_c": d["temp_c"], "why": d.get("why")})
    if bin_id is not None:
        _state(tx, bin_id, status="burning", temp_c=d["temp_c"])


def on_tilted(tx, device, event):
    bin_id = bins.by_device(tx.conn, device.id)
    if bin_id is None:
        return
    if event["data"]["on"]:
        _open(tx, bin_id, "tilted", "tilted %d deg" % event["data"]["deg"])
        _state(tx, bin_id, status="dropped")
    else:
        _close(tx, bin_id, "tilted")
        _state(tx, bin_id, status="ok")


def on_lid_open(tx, device, event):
    bin_id = bins.by_device(tx.conn, device.id)
    if bin_id is not None:
        _state(tx, bin_id, status="lidOpen")


def on_sensor_fault(tx, device, event):
    bin_id = bins.by_device(tx.conn, device.id)
    if bin_id is not None:
        d = event["data"]
        _open(tx, bin_id, "sensor_fault", "%s%s" % (d["kind"], ": " + d["detail"] if d.get("detail") else ""))


def offline_after_s(config, settings):
    """A bin reports at least every fill_report_h: offline after report_intervals_offline of those, plus the grace."""
    return config.get("fill_report_h", 6) * 3600 * settings.report_intervals_offline + settings.report_grace_s


register_event_handler("fill", on_fill)
register_event_handler("emptied", on_emptied)
register_event_handler("fire", on_fire, urgent=True)
register_event_handler("tilted", on_tilted)
register_event_handler("lid_open", on_lid_open)
register_event_handler("sensor_fault", on_sensor_fault)
register_status_rule("smart_bin", offline_after_s)
