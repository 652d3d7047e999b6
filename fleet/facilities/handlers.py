"""The beacon's fault events, handled in the ingest transaction (only for events stored for the
first time: a retried batch opens no second work order). A cover_open is urgent - a danger to
people - so its request goes ahead of the writer's queue, like a call button's alarm."""

from fleet.domain.ingest import register_event_handler
from fleet.facilities import services, workorders

for _fault in services.FAULTS:
    register_event_handler(_fault, workorders.on_fault, urgent=(_fault == "cover_open"))
for _restore in services.RESTORES:
    register_event_handler(_restore, workorders.on_restore)
