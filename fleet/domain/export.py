"""Devices and events as CSV (for spreadsheets and open data). Never includes secrets."""

import csv

from fleet.domain.devices import PUBLIC
from fleet.domain.tags import SQL_OF_DEVICE as TAGS_SQL

DEVICE_COLUMNS = PUBLIC + ("config", "tags")
_DEVICE_SQL = PUBLIC + ("config", TAGS_SQL + " AS tags")      # what each device column is in SQL
EVENT_COLUMNS = ("id", "device_id", "generation", "stream", "seq", "type", "t_device", "at", "received_at", "data")
KINDS = ("devices", "events")


def write_csv(db, kind, out, device_id=None):
    """Write the CSV of kind ("devices" or "events") to the text file out; return the row count."""
    if kind == "devices":
        columns, sql, params = DEVICE_COLUMNS, "SELECT %s FROM devices ORDER BY id" % ", ".join(_DEVICE_SQL), ()
    elif kind == "events":
        columns = EVENT_COLUMNS
        sql = ("SELECT %s FROM events" % ", ".join(columns)) + (" WHERE device_id = ?" if device_id else "") + " ORDER BY id"
        params = (device_id,) if device_id else ()
    else:
        raise ValueError("kind must be one of %s" % ", ".join(KINDS))
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for values in db.conn.execute(sql, params):   # streamed, not loaded whole
        writer.writerow(values)
        count += 1
    return count
