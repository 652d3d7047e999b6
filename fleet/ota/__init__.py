"""OTA: signed releases and staged rollouts - release building and signing (offline), releases,
rollouts, downloads, the update offer - with its routes (api/), pages (web/), tables
(migrations.py) and commands (cli.py) side by side.

It plugs into the core through the core's hooks: the `update` downlink provider, event handlers
for the `ota` progress events, the update guard (care answers "may this device install now?"
without OTA importing care), the live topic `ota`. The board's side of the same manifests is
firmware/app/devproto/ota.py (shared) and firmware/app/ota*.py. docs/ota.md describes it.
"""
