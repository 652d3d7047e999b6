"""Facilities: public facilities with an identity - streetlights, manhole covers, bins - their
QR pages, citizen reports (Open311 GeoReport v2) and work orders tracked to the end, with routes
(api/), pages (web/), tables (migrations.py) and commands (cli.py) side by side.

It plugs into the core through the core's hooks: event handlers for the beacon's faults
(cover_open, cover_closed, lamp_fault, day_burning, lamp_ok), the live topic `workorders`, the
writer for every transition. It imports the core only (tests/fleet/test_layout.py).
docs/facilities.md and docs/open311.md describe it.
"""
