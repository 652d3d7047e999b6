"""Care: the call-button alarm pipeline - alarms, escalation, supervision, residents - with its
routes (api/), pages (web/), tables (migrations.py) and commands (cli.py) side by side.

It plugs into the core through the core's hooks (docs/architecture.md#hooks-for-what-comes-next):
event handlers for `alarm`, `alarm_cancel`, `battery_low`; the `alarms` downlink provider; a status
listener; the live topic `alarms`; the core's webhook outbox. fleet/main.py takes CARE from
capability.py. Care imports the core, never another capability; the core never imports care
(tests/fleet/test_layout.py). docs/alarms.md describes what it does.
"""
