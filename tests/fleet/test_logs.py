"""Structured logs: `fleet serve` with FLEET_LOG_FORMAT=json writes one JSON object per line -
its own lines and uvicorn's - and refuses a format it does not know."""

import json
import os
import subprocess
import sys

import httpx

from fleetkit import start_server, wait_for


def test_json_logs_are_one_object_per_line(settings):
    proc, url = start_server(settings.db, {"FLEET_LOG_FORMAT": "json", "FLEET_LOG_LEVEL": "info"})
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/api/v1/health").status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
    wait_for(lambda: any("Finished server process" in line for line in proc.output), what="the last line")
    records = [json.loads(line) for line in proc.output if not line.startswith("Fleet manager listening on")]
    assert records, proc.output
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert record["time"].endswith("Z") and record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
    loggers = {r["logger"] for r in records}
    assert "fleet" in loggers and "uvicorn.error" in loggers, loggers
    assert any(r["message"].startswith("open-files limit") for r in records)


def test_an_unknown_log_format_is_refused_clearly(settings):
    done = subprocess.run([sys.executable, "-m", "fleet.cli", "serve", "--port", "0", "--db", str(settings.db)],
                          capture_output=True, text=True, timeout=30, env=dict(os.environ, FLEET_LOG_FORMAT="xml"))
    assert done.returncode == 1
    assert "FLEET_LOG_FORMAT must be one of text, json, not 'xml'" in done.stderr
    assert "Traceback" not in done.stderr
