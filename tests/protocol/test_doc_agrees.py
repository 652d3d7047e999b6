"""docs/protocol.md and devproto must say the same: error table, limits, field tables, config."""

import re
from pathlib import Path

import devproto

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def table_after(heading_text, first_column):
    """Rows (lists of cells, backticks stripped) of the first table after heading_text whose header starts so."""
    start = DOC.index(heading_text)
    lines = DOC[start:].splitlines()
    rows, inside = [], False
    for line in lines:
        if line.startswith("| " + first_column + " |"):
            inside = True
            continue
        if inside:
            if not line.startswith("|"):
                break
            if set(line) <= set("|- "):
                continue
            rows.append([c.strip().strip("`") for c in line.strip().strip("|").split("|")])
    assert rows, "no table '%s' after '%s'" % (first_column, heading_text)
    return rows


def test_error_table_matches_codes_and_statuses():
    rows = table_after("## Errors", "code")
    assert {r[0]: int(r[1]) for r in rows} == devproto.ERRORS


def test_limits_table():
    limits = {r[0]: r[1] for r in table_after("## Limits and time", "limit")}
    number = lambda text: int(re.search(r"\d+", text).group())  # noqa: E731
    assert number(limits["body"]) == devproto.MAX_BODY
    assert number(limits["events per request"]) == devproto.MAX_EVENTS
    assert number(limits["metrics per telemetry event"]) == devproto.MAX_METRICS
    assert number(limits["string in data / hello"]) == devproto.MAX_STR
    assert number(limits["type name, data key, alarm ref"]) == devproto.MAX_KEY
    assert number(limits["errors per hello"]) == devproto.MAX_ERRORS
    assert number(limits["clock window"]) == devproto.CLOCK_WINDOW
    assert re.findall(r"\d+", limits["nonce"]) == [str(devproto.NONCE_MIN), str(devproto.NONCE_MAX)]
    assert number(limits["long-poll wait"]) == devproto.MAX_POLL_WAIT
    assert "%d bytes" % devproto.MAX_BODY in DOC and "%d s" % devproto.CLOCK_WINDOW in DOC


def test_config_table():
    rows = table_after("Config keys:", "key")
    documented = {r[0]: (r[1], tuple(int(x) for x in re.findall(r"\d+", r[2])), int(r[3])) for r in rows}
    assert documented == {k: (kind, (lo, hi), default) for k, (kind, lo, hi, default) in devproto.CONFIG.items()}


def test_hello_fields():
    rows = table_after("## hello", "field")
    assert {r[0]: (r[1].replace("list of str", "list"), r[2] == "yes") for r in rows} == devproto.HELLO_FIELDS


def test_enroll_fields():
    rows = table_after("## Enrollment", "field")
    assert {r[0]: (r[1], r[2] == "yes") for r in rows} == devproto.ENROLL_FIELDS


def test_event_types_and_their_fields():
    rows = table_after("Event types in v1", "type")
    assert [r[0] for r in rows] == list(devproto.EVENT_TYPES)
    for name, data, _ in rows:
        fields = devproto.EVENT_TYPES[name]
        if fields is None:
            assert "name: number" in data
            continue
        for field, (kind, required) in fields.items():
            found = re.search(r"`?%s`? (\w+)" % field, data)
            assert found, (name, field)
            assert found.group(1) == kind, (name, field)
        required = {f for f, (_, req) in fields.items() if req}
        assert ("required" in data) == bool(required), name


def test_enumerations_are_written_out():
    for values in (devproto.ROLES, devproto.RESET_CAUSES, devproto.WAKE_REASONS, devproto.COMMANDS,
                   devproto.ALARM_STATES):
        for value in values:
            assert "`%s`" % value in DOC, value


def test_paths_and_headers():
    for path in (devproto.PATH_ENROLL, devproto.PATH_HELLO, devproto.PATH_EVENTS, devproto.PATH_POLL):
        assert path in DOC
    for header in (devproto.H_DEVICE, devproto.H_TIME, devproto.H_NONCE, devproto.H_SIG, devproto.H_SERVER_TIME):
        assert "`%s`" % header in DOC
    assert "%d" % devproto.MIN_VALID_TIME in DOC
    assert "%d" % devproto.INT_MAX in DOC and "%d" % devproto.INT_MIN in DOC
