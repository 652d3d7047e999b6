"""Provisioning runs: what the technician's tool (`provision`, the top-level provisioning/
package) reports about each board it flashed, and what the fleet makes of it for the technician -
their runs, the boards still awaiting their first hello, the failures (docs/provisioning-runs.md)."""
