"""Which devices changed since the server last looked: the device change log.

Triggers (migration 12) append a row to device_changes whenever a devices column that the server
keeps in memory changes, whoever changes it: this server, or another process such as the CLI
revoking a device. The server reads the new rows a few times a second (ChangeFeed.poll: one
primary-key range read on the event loop) and drops those devices' cached identities and
downlinks and wakes their long-polls (FleetRuntime._apply_changes). So a change made anywhere
applies within about change_poll_s, and the caches' TTL is only a backstop.

Rows are pruned by the writer (bulk) one prune period after they were read.
"""

DOWN, DEVICE = "down", "device"     # only the cursor rose / anything else (identity, config, revoke)


class ChangeFeed:
    def __init__(self, db):
        self._db = db                   # the event loop's read connection
        # what was logged before this start concerns caches that no longer exist
        self.seq = db.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM device_changes").fetchone()[0]

    def poll(self, limit=10_000):
        """({device ids whose downlink changed}, {device ids that changed otherwise}) since the last poll."""
        found = self._db.conn.execute("SELECT seq, device_id, kind FROM device_changes WHERE seq > ? "
                                      "ORDER BY seq LIMIT ?", (self.seq, limit)).fetchall()
        down, device = set(), set()
        for seq, device_id, kind in found:
            (device if kind == DEVICE else down).add(device_id)
        if found:
            self.seq = found[-1][0]
        return down, device


def prune(conn, upto):
    """Writer job: forget the rows up to seq `upto` (already read)."""
    conn.execute("DELETE FROM device_changes WHERE seq <= ?", (upto,))
