"""A crew's route as CSV (one line per stop, for a spreadsheet) and GPX (waypoints and a route,
for a navigation app); both in the order the trucks drive."""

import csv
import io
from xml.sax.saxutils import escape

from fleet.core import clock

CSV_FIELDS = ("truck", "seq", "bin_id", "name", "lat", "lon", "waste_type", "pct", "eta", "state")


def route_csv(plan, truck=None):
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(CSV_FIELDS)
    for s in plan["stops"]:
        if truck is None or s["truck"] == truck:
            w.writerow([s["truck"], s["seq"], s["bin_id"], s["name"] or "", s["lat"], s["lon"], s["waste_type"],
                        "" if s["pct"] is None else s["pct"], clock.iso(s["eta"]), s["state"]])
    return out.getvalue()


def route_gpx(plan, truck=None):
    pts = [s for s in plan["stops"] if truck is None or s["truck"] == truck]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<gpx version="1.1" creator="district-devices fleet" xmlns="http://www.topografix.com/GPX/1/1">']
    for s in pts:
        lines.append('  <wpt lat="%.6f" lon="%.6f"><name>%s</name><desc>truck %d stop %d</desc></wpt>'
                     % (s["lat"], s["lon"], escape(s["bin_id"]), s["truck"], s["seq"]))
    for t in sorted({s["truck"] for s in pts}):
        lines.append('  <rte><name>truck %d</name>' % t)
        for s in pts:
            if s["truck"] == t:
                lines.append('    <rtept lat="%.6f" lon="%.6f"><name>%s</name></rtept>'
                             % (s["lat"], s["lon"], escape(s["bin_id"])))
        lines.append("  </rte>")
    lines.append("</gpx>")
    return "\n".join(lines) + "\n"
