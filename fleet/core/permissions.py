"""Who may do what: one table, checked by every admin endpoint (fleet.api.deps.require).

Least privilege: technicians install devices (enrollment tokens, device detail, config,
commands, tags); caregivers watch devices' status, answer alarms and see residents; only admins
manage people, revoke devices, rotate secrets, read the audit log, export data, and configure
escalation and webhooks.
"""

ADMIN, CAREGIVER, TECHNICIAN = "admin", "caregiver", "technician"

PERMISSIONS = {
    "devices.read": {ADMIN, CAREGIVER, TECHNICIAN},     # list, detail, live status
    "devices.events": {ADMIN, TECHNICIAN},              # a device's event history, commands
    "devices.configure": {ADMIN, TECHNICIAN},
    "devices.tag": {ADMIN, TECHNICIAN},                 # set, add, remove a device's tags
    "devices.command": {ADMIN, TECHNICIAN},
    "devices.revoke": {ADMIN},
    "devices.rotate": {ADMIN},
    "enrollment.manage": {ADMIN, TECHNICIAN},
    "tokens.own": {ADMIN, TECHNICIAN},                  # API tokens for one's own tools
    "tokens.all": {ADMIN},                              # everyone's API tokens
    "users.manage": {ADMIN},
    "audit.read": {ADMIN},
    "export": {ADMIN},
    # Alarms and the people behind them: caregivers answer, technicians never see residents.
    "alarms.read": {ADMIN, CAREGIVER},                  # list, detail, live stream, console
    "alarms.respond": {ADMIN, CAREGIVER},               # acknowledge, resolve
    "residents.read": {ADMIN, CAREGIVER},
    "residents.manage": {ADMIN, CAREGIVER},             # create, edit, assign to a button
    "escalation.read": {ADMIN, CAREGIVER},
    "escalation.manage": {ADMIN},
    "webhooks.manage": {ADMIN},
    "metrics.read": {ADMIN},                            # /metrics (Prometheus uses the metrics token)
    # Smart bins: technicians (the crews and whoever fixes bins) see bins and routes and mark stops.
    "bins.read": {ADMIN, TECHNICIAN},                   # registry, fill, forecast, map, FIWARE export
    "bins.manage": {ADMIN},                             # add, change, import, delete bins
    "waste.plan": {ADMIN, TECHNICIAN},                  # make a collection plan
    "waste.crew": {ADMIN, TECHNICIAN},                  # the route, mark a stop collected / no access
    # Facilities: technicians keep the registry and do the repairs; admins run teams and routing.
    "assets.read": {ADMIN, TECHNICIAN},                 # the registry, photos, reports' details
    "assets.manage": {ADMIN, TECHNICIAN},               # create, edit, import, photograph assets
    "workorders.read": {ADMIN, TECHNICIAN},             # work orders, the technician view
    "workorders.act": {ADMIN, TECHNICIAN},              # take, start, resolve, close, reject (own teams')
    "workorders.manage": {ADMIN},                       # assign anywhere, teams, routing, Open311 app keys
    "facilities.tracking": {ADMIN},                     # handling per week and category, CSV
    # Provisioning: the technician's tool reports each board it flashed; technicians see their runs.
    "provisioning.report": {ADMIN, TECHNICIAN},         # POST a run (the `provision` tool)
    "provisioning.read": {ADMIN, TECHNICIAN},           # runs, boards awaiting hello, failures (own)
    "provisioning.all": {ADMIN},                        # every technician's runs
    # OTA (docs/ota.md): technicians follow updates; admins upload releases and run rollouts.
    "ota.read": {ADMIN, TECHNICIAN},                    # releases, rollouts, their live progress
    "ota.release": {ADMIN},                             # upload releases, trust or revoke keys
    "ota.rollout": {ADMIN},                             # start, pause, resume, abort rollouts
}


def allowed(role, permission):
    return role in PERMISSIONS[permission]
