"""Paths and world settings shared by the virtual-board tests (a module of its own: several
conftest.py files exist, so `from conftest import ...` depends on collection order)."""

from pathlib import Path

AGENT = Path(__file__).resolve().parent / "fixtures" / "agent"   # the small agent firmware
FAST_WIFI = {"wifi_fast_ms": 50, "wifi_scan_ms": 200, "wifi_loss_ms": 200}
