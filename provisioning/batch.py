"""Many boards from a plan: `provision batch plan.csv --port A --port B ...`.

plan.csv has a header and one row per device to make: `role` (call_button, smart_bin, beacon),
`site`, optional `board` (default esp32-devkitc) and `wifi_ssid` (default the command's). The
whole plan is checked before anything is flashed (errors name their line). Each port runs a
worker that takes the next row not yet done, provisions the board on its port and moves on. The
results file (<plan>.results.csv: line, port, mac, device_id, firmware, result, code, error,
seconds) is rewritten after every board: a second run of the same plan skips the rows done, so a
crash or an unplugged board loses nothing. A board seen before in this plan (same MAC) is
refused: its row stays to do.
"""

import csv
import dataclasses
import threading
from pathlib import Path

from boards import list_boards

from . import errors
from .flow import FlashJob, provision_board

ROLES = ("call_button", "smart_bin", "beacon")
RESULT_FIELDS = ("line", "port", "role", "site", "mac", "device_id", "firmware", "result", "code", "error", "seconds")


@dataclasses.dataclass
class Row:
    line: int
    role: str
    site: str
    board: str
    wifi_ssid: str


def read_plan(path, default_ssid=None):
    """The plan's rows; PlanError listing every bad row with its line number."""
    p = Path(path)
    if not p.is_file():
        raise errors.PlanError("no plan file %s" % p)
    with open(p, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "role" not in [h.strip() for h in reader.fieldnames]:
            raise errors.PlanError("%s: the first line must be a header with at least a `role` column" % p)
        boards = set(list_boards())
        rows, problems = [], []
        for rec in reader:
            line = reader.line_num
            rec = {(k or "").strip(): (v or "").strip() for k, v in rec.items()}
            role, site = rec.get("role", ""), rec.get("site", "")
            board = rec.get("board") or "esp32-devkitc"
            ssid = rec.get("wifi_ssid") or default_ssid or ""
            bad = []
            if role not in ROLES:
                bad.append("role %r is not one of %s" % (role, ", ".join(ROLES)))
            if board not in boards:
                bad.append("board %r is unknown (known: %s)" % (board, ", ".join(sorted(boards))))
            if len(site) > 64:
                bad.append("site is longer than 64 characters")
            if not ssid:
                bad.append("no Wi-Fi network: give a wifi_ssid column or --wifi-ssid")
            if bad:
                problems.append("line %d: %s" % (line, "; ".join(bad)))
            else:
                rows.append(Row(line, role, site or None, board, ssid))
    if problems:
        raise errors.PlanError("%s has %d bad row(s); nothing was flashed" % (p, len(problems)), problems)
    if not rows:
        raise errors.PlanError("%s has no rows" % p)
    return rows


def results_path(plan):
    p = Path(plan)
    return p.with_name(p.stem + ".results.csv")


def read_results(path):
    p = Path(path)
    if not p.is_file():
        return {}
    with open(p, newline="", encoding="utf-8") as f:
        return {int(r["line"]): r for r in csv.DictReader(f)}


def write_results(path, results):
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_FIELDS)
        w.writeheader()
        for line in sorted(results):
            w.writerow({k: results[line].get(k, "") for k in RESULT_FIELDS})
    tmp.replace(p)


class Batch:
    def __init__(self, plan, ports, firmware, fleet, fleet_url, wifi_password=None, default_ssid=None, baud=460800,
                 firmware_dir=None, hello_timeout=120.0, on_event=None):
        self.rows = read_plan(plan, default_ssid)
        if not ports:
            raise errors.PlanError("no ports: give at least one --port")
        self.ports = list(ports)
        self.firmware = firmware
        self.fleet = fleet
        self.fleet_url = fleet_url
        self.wifi_password = wifi_password
        self.baud = baud
        self.firmware_dir = firmware_dir
        self.hello_timeout = hello_timeout
        self.on_event = on_event or (lambda port, kind, data: None)
        self.results_file = results_path(plan)
        self.results = read_results(self.results_file)
        self._lock = threading.Lock()
        self._taken = set()
        self.macs = {r["mac"]: int(line) for line, r in self.results.items() if r.get("mac") and r.get("result") == "ok"}

    def todo(self):
        return [r for r in self.rows if self.results.get(r.line, {}).get("result") != "ok"]

    def _next(self):
        with self._lock:
            for r in self.todo():
                if r.line not in self._taken:
                    self._taken.add(r.line)
                    return r
        return None

    def _seen(self, row):
        def check(mac):
            with self._lock:
                other = self.macs.get(mac)
                if other is not None and other != row.line:
                    raise errors.DuplicateBoard("board %s was already provisioned for line %d of this plan" % (mac, other))
        return check

    def _record(self, row, port, res):
        with self._lock:
            self.results[row.line] = {
                "line": row.line, "port": port, "role": row.role, "site": row.site or "", "mac": res.mac or "",
                "device_id": res.device_id or "", "firmware": res.firmware or "",
                "result": "ok" if res.ok else "failed", "code": res.code or "", "error": res.error or "",
                "seconds": res.stages.get("total", "")}
            if res.ok and res.mac:
                self.macs[res.mac] = row.line
            write_results(self.results_file, self.results)

    def _worker(self, port):
        while True:
            row = self._next()
            if row is None:
                return
            job = FlashJob(port=port, firmware=self.firmware, board=row.board, role=row.role,
                           fleet_url=self.fleet_url, wifi_ssid=row.wifi_ssid, wifi_password=self.wifi_password,
                           site=row.site, baud=self.baud, firmware_dir=self.firmware_dir)
            self.on_event(port, "start", row)
            res = provision_board(job, self.fleet, hello_timeout=self.hello_timeout, seen_macs=self._seen(row),
                                  on_stage=lambda s, p=port: self.on_event(p, "stage", s),
                                  on_progress=lambda d, t, p=port: self.on_event(p, "progress", (d, t)))
            self._record(row, port, res)
            self.on_event(port, "done", res)
            if not res.ok:
                with self._lock:
                    self._taken.discard(row.line)
                return          # this port needs a person (next board, a cable, BOOT): stop it

    def run(self):
        threads = [threading.Thread(target=self._worker, args=(p,), name="provision-%s" % p, daemon=True)
                   for p in self.ports]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.results
