"""Who may do what: one table, checked by every admin endpoint (fleet.api.deps.require).

Least privilege: technicians install devices (enrollment tokens, device detail, config,
commands); caregivers watch devices' status; only admins manage people, revoke devices,
rotate secrets, read the audit log and export data.
"""

ADMIN, CAREGIVER, TECHNICIAN = "admin", "caregiver", "technician"

PERMISSIONS = {
    "devices.read": {ADMIN, CAREGIVER, TECHNICIAN},     # list, detail, live status
    "devices.events": {ADMIN, TECHNICIAN},              # a device's event history, commands
    "devices.configure": {ADMIN, TECHNICIAN},
    "devices.command": {ADMIN, TECHNICIAN},
    "devices.revoke": {ADMIN},
    "devices.rotate": {ADMIN},
    "enrollment.manage": {ADMIN, TECHNICIAN},
    "tokens.own": {ADMIN, TECHNICIAN},                  # API tokens for one's own tools
    "tokens.all": {ADMIN},                              # everyone's API tokens
    "users.manage": {ADMIN},
    "audit.read": {ADMIN},
    "export": {ADMIN},
}


def allowed(role, permission):
    return role in PERMISSIONS[permission]
