"""Device tags: labels people give devices (`floor-3`, `pilot`, `vendor:acme`) to find them and to
target rollouts (docs/ota.md "Rollouts", a target's `tags`).

A tag is 1-32 characters: lower-case letters, digits, '-', '_' and ':', starting with a letter or
a digit; a device has at most MAX_PER_DEVICE of them. Tags are the fleet's own: they never reach
the device (nothing in `down` changes). Every change is audited (`device.tags`: what was added and
removed).
"""

import re

from fleet.domain import audit
from fleet.errors import Invalid, NotFound
from fleet.store.db import write_tx

MAX_LENGTH = 32
MAX_PER_DEVICE = 16
PATTERN = "^[a-z0-9][a-z0-9_:-]{0,%d}$" % (MAX_LENGTH - 1)
_TAG = re.compile(PATTERN)
RULE = ("a tag is 1-%d characters: lower-case letters, digits, '-', '_' or ':', starting with a letter or digit"
        % MAX_LENGTH)


# A device's tags as one SQL column of a query on `devices`: sorted, separated by spaces (parse()).
SQL_OF_DEVICE = ("(SELECT group_concat(tag, ' ') FROM (SELECT tag FROM device_tags t "
                 "WHERE t.device_id = devices.id ORDER BY tag))")


def check_tag(tag):
    """The tag, if it follows the rule; else Invalid saying what a tag may be."""
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise Invalid("%r is not a tag: %s" % (tag, RULE), code="invalid_tag")
    return tag


def check_tags(tags, limit=MAX_PER_DEVICE):
    """A sorted list without repeats of tags, each checked; Invalid when there are more than limit."""
    if not isinstance(tags, (list, tuple, set)):
        raise Invalid("tags is a list of tags", code="invalid_tag")
    out = sorted({check_tag(t) for t in tags})
    if limit is not None and len(out) > limit:
        raise Invalid("%d tags: a device has at most %d" % (len(out), limit), code="too_many_tags")
    return out


def parse(text):
    """Stored form (tags separated by spaces, as group_concat returns them) -> a sorted list."""
    return sorted(text.split()) if text else []


def tags_of(conn, device_id):
    return sorted(t for (t,) in conn.execute("SELECT tag FROM device_tags WHERE device_id = ?", (device_id,)))


def tags_by_device(conn):
    """{device id: set of tags} of every tagged device (the rollout engine's look-up)."""
    out = {}
    for device_id, tag in conn.execute("SELECT device_id, tag FROM device_tags"):
        out.setdefault(device_id, set()).add(tag)
    return out


def _change(db, actor, device_id, make):
    """make(current tags) -> the new tags; checked, stored, audited in one transaction. Returns
    the device's tags."""
    with write_tx(db):
        if db.conn.execute("SELECT 1 FROM devices WHERE id = ?", (device_id,)).fetchone() is None:
            raise NotFound("no device %r" % device_id)
        current = tags_of(db.conn, device_id)
        wanted = check_tags(make(set(current)))
        added = sorted(set(wanted) - set(current))
        removed = sorted(set(current) - set(wanted))
        if added:
            db.conn.executemany("INSERT INTO device_tags (device_id, tag) VALUES (?, ?)",
                                [(device_id, t) for t in added])
        if removed:
            db.conn.executemany("DELETE FROM device_tags WHERE device_id = ? AND tag = ?",
                                [(device_id, t) for t in removed])
        if added or removed:
            audit.record(db, actor, "device.tags", device_id, {"added": added, "removed": removed})
    return wanted


def set_tags(db, actor, device_id, tags):
    """The device's tags become exactly these (an empty list clears them)."""
    tags = check_tags(tags)
    return _change(db, actor, device_id, lambda current: tags)


def add_tags(db, actor, device_id, tags):
    """Add tags (those the device has already are no change); more than MAX_PER_DEVICE in all is Invalid."""
    tags = check_tags(tags, limit=None)
    return _change(db, actor, device_id, lambda current: current | set(tags))


def remove_tags(db, actor, device_id, tags):
    """Remove tags (one the device does not have is no change)."""
    tags = check_tags(tags, limit=None)
    return _change(db, actor, device_id, lambda current: current - set(tags))
