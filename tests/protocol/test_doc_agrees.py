"""docs/protocol.md and devproto must say the same: error table, limits, field tables, config."""

import hashlib
import hmac
import json
import re
from pathlib import Path

import devproto
import pytest

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


def test_smart_bin_config_table():
    rows = table_after("Smart bin config keys", "key")
    documented = {r[0]: (r[1], tuple(int(x) for x in re.findall(r"\d+", r[2])), int(r[3])) for r in rows}
    assert documented == {k: (kind, (lo, hi), default)
                          for k, (kind, lo, hi, default) in devproto.ROLE_CONFIG["smart_bin"].items()}


def test_event_bounds_are_written_out():
    for (etype, field), (lo, hi) in devproto.BOUNDS.items():
        assert "`%s.%s` %s–%s" % (etype, field, lo, hi) in DOC, (etype, field)
    for q in devproto.FILL_QUALITY:
        assert "`%s`" % q in DOC


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
                   devproto.ALARM_STATES, devproto.OTA_STAGES):
        for value in values:
            assert "`%s`" % value in DOC, value


def test_paths_and_headers():
    for path in (devproto.PATH_ENROLL, devproto.PATH_HELLO, devproto.PATH_EVENTS, devproto.PATH_POLL):
        assert path in DOC
    for header in (devproto.H_DEVICE, devproto.H_TIME, devproto.H_NONCE, devproto.H_SIG, devproto.H_SERVER_TIME):
        assert "`%s`" % header in DOC
    assert "%d" % devproto.MIN_VALID_TIME in DOC
    assert "%d" % devproto.INT_MAX in DOC and "%d" % devproto.INT_MIN in DOC


def test_title_and_v11_headers():
    assert DOC.startswith("# Device protocol v%s\n" % devproto.PROTOCOL)
    for header in (devproto.H_PROTOCOL, devproto.H_REPLY_SIG):
        assert "`%s`" % header in DOC
    assert "`%s: %s`" % (devproto.H_PROTOCOL, devproto.PROTOCOL) in DOC
    assert "HMAC key is those 32 bytes after\nhex-decoding" in DOC


def test_server_time_format_examples_are_what_the_code_writes_and_reads():
    examples = re.findall(r"`X-Server-Time: ([^`]+)`", DOC)
    assert examples
    for text in examples:
        parsed = devproto.parse_server_time(text)
        assert parsed is not None, text
        assert devproto.server_time_text(parsed[0] * 1000 + parsed[1]) == text
    assert devproto.parse_server_time("1796031157.98") is None     # "exactly three digits"


def test_reply_string_lines_are_the_code_s():
    block = DOC[DOC.index("The reply string is five lines"):]
    block = block[block.index("```") + 3:]
    block = block[:block.index("```")]
    names = [line.split()[0] for line in block.strip().splitlines()]
    assert names == ["REPLY", "NONCE", "STATUS", "SERVER_TIME", "BODY_SHA256"]
    # the code signs exactly those lines (checked against the stdlib's HMAC)
    body = b'{"ack":1}'
    lines = "\n".join(("REPLY", "abcdef0123", "200", "1.000", hashlib.sha256(body).hexdigest())).encode()
    assert devproto.reply_signature(bytes(32), "abcdef0123", 200, "1.000", body) == \
        hmac.new(bytes(32), lines, hashlib.sha256).hexdigest()


def test_full_config_example_in_down_has_every_key_in_range():
    example = DOC[DOC.index('"down": {'):]
    example = example[:example.index("```")]
    config = json.loads(re.search(r'"config": (\{[^}]*\})', example, re.S).group(1))
    assert set(config) == set(devproto.CONFIG)
    assert devproto.check_config(config) == config


def test_enrollment_length_is_one_value_in_page_validator_and_openapi():
    from fleet.api import device_schema
    from fleet.api.schemas import EnrollTokenCreate

    limits = {r[0]: r[1] for r in table_after("## Limits and time", "limit")}
    assert int(re.search(r"\d+", limits["enrollment token, board, site"]).group()) == devproto.ENROLL_FIELD_MAX
    assert "`token`, `board` and `site` are 1–%d characters" % devproto.ENROLL_FIELD_MAX in DOC
    for name in ("token", "board", "site"):
        assert device_schema.ENROLL["properties"][name]["maxLength"] == devproto.ENROLL_FIELD_MAX
    for name in ("board", "site"):
        meta = EnrollTokenCreate.model_fields[name].metadata
        assert any(getattr(m, "max_length", None) == devproto.ENROLL_FIELD_MAX for m in meta)
    body = {"token": "t" * devproto.ENROLL_FIELD_MAX, "hw_id": "a4cf12345678", "role": "beacon", "board": "b"}
    devproto.check_enroll(body)
    with pytest.raises(devproto.ProtocolError):
        devproto.check_enroll(dict(body, token="t" * (devproto.ENROLL_FIELD_MAX + 1)))


def test_event_t_required_and_non_negative_data_optional_as_written():
    assert "Each event has `seq`, `t` and `type` (all required) and `data` (optional" in DOC
    assert "an integer\n  ≥ 0" in DOC
    devproto.check_event({"seq": 1, "t": 0, "type": "heartbeat"})              # no data: fine
    for bad in ({"seq": 1, "type": "heartbeat"}, {"seq": 1, "t": -1, "type": "heartbeat"}):
        with pytest.raises(devproto.ProtocolError):
            devproto.check_event(bad)
    with pytest.raises(devproto.ProtocolError):                                 # required fields need data
        devproto.check_event({"seq": 1, "t": 0, "type": "alarm"})


def test_lower_case_hex_only():
    assert "Hex is lower case only" in DOC
    assert not devproto.is_hex("ABCDEF01", devproto.NONCE_MIN, devproto.NONCE_MAX)
    with pytest.raises(devproto.ProtocolError):
        devproto.check_enroll({"token": "t", "hw_id": "A4CF12345678", "role": "beacon", "board": "b"})


def test_admin_api_paths_named_for_config_and_commands_exist(tmp_path):
    from fleet.core.config import Settings
    from fleet.main import create_app

    paths = create_app(Settings.from_env(db=tmp_path / "fleet.db")).openapi()["paths"]
    for path, method in (("/api/v1/devices/{device_id}/config", "put"),
                         ("/api/v1/devices/{device_id}/commands", "post")):
        assert "`%s %s`" % (method.upper(), path.replace("{device_id}", "{id}")) in DOC
        assert method in paths[path]


def test_beacon_settings_table():
    """down.beacon (devproto/beacon.py): every key with its kind, range and default."""
    import devproto.beacon as beacon
    rows = table_after("down.beacon settings", "key")
    documented = {r[0]: (r[1], tuple(int(x) for x in re.findall(r"-?\d+", r[2].replace("–", " "))),
                         r[3].strip("`")) for r in rows}
    assert documented == {k: (kind, (lo, hi), str(default)) for k, (kind, lo, hi, default) in beacon.BEACON.items()}
