"""The fleet's database schema: every migration of the core and of each capability, in one
numbered list. Migration n is MIGRATIONS[n - 1]; a database's PRAGMA user_version says how many
it has. The numbers are global and never change: a new step of any capability (a `waste` table,
say) is appended at the end, and a step is never edited once released (tests/fleet/test_migrations.py
upgrades from every earlier version).

This module sits at the top of the fleet, with main.py, runtime.py and cli.py: it imports the
capabilities' migrations, so that the store (fleet.store.migrations: the machinery and the core's
steps) never has to.
"""

from fleet.care import migrations as care
from fleet.facilities import migrations as facilities
from fleet.provisioning import migrations as provisioning
from fleet.waste import migrations as waste
from fleet.ota import migrations as ota
from fleet.store import db as store
from fleet.store import migrations as core

MIGRATIONS = [
    core.m001_initial,                          # 1  people, devices, events, commands, audit
    core.m002_device_status,                    # 2
    core.m003_seen_nonces,                      # 3
    (care.m004_alarms, core.m004_webhooks),     # 4  alarms, escalation, residents + the webhook outbox
    core.m005_server_runs,                      # 5
    care.m006_alarm_resident,                   # 6
    waste.m007_waste,                           # 7  bins, fill history, plans and stops, maintenance
    facilities.m008_facilities,                 # 8  assets, reports (Open311), work orders, teams
    ota.m009_ota,                               # 9  OTA: keys, releases, rollouts
    provisioning.m010_provisioning_runs,        # 10 the technicians' provisioning runs
    core.m011_device_tags,                      # 11 device tags (people's labels; rollout targets)
    core.m012_device_changes,                   # 12 the device change log (cache invalidation across processes)
]
LATEST = len(MIGRATIONS)


def apply(db, target=None):
    """Bring db to version target (default: the latest); returns its version."""
    return core.apply(db, MIGRATIONS, target)


def open_db(path):
    """Connect to (creating if needed) the fleet database at path, its schema brought up to date."""
    return store.open_db(path, MIGRATIONS)
