"""What can be reported, and how fast it must be handled: the Open311 service list and the SLA
of each category (docs/open311.md, docs/facilities.md).

A service is a kind of problem with one kind of asset. Device faults (a beacon's events) are
categories too, so a tilted manhole cover seen by its sensor and one reported by a citizen share
a deadline. `respond_h`: assigned and started within; `resolve_h`: resolved within; past
resolve_h a work order is overdue and escalates (fleet.facilities.workorders.SlaTimer).
"""

from typing import NamedTuple

from fleet.web.i18n import N_


class Service(NamedTuple):
    code: str
    name: str                 # English, translated where shown (N_)
    description: str
    asset_types: tuple        # the assets it applies to
    group: str                # Open311 "group"
    keywords: str
    resolve_h: float          # SLA: resolved within this many hours
    urgent: bool = False      # a danger to people: first on every list


SERVICES = (
    Service("light_out", N_("Streetlight not working"), N_("The lamp stays dark at night or flickers."),
            ("streetlight",), "streetlights", "lamp,dark,night,light", 72),
    Service("light_day", N_("Streetlight on during the day"), N_("The lamp is lit in daylight."),
            ("streetlight",), "streetlights", "lamp,day,energy", 120),
    Service("pole_damaged", N_("Lamp post damaged"), N_("The post is leaning, hit, open or has loose wires."),
            ("streetlight",), "streetlights", "post,pole,wires,danger", 24, True),
    Service("cover_open", N_("Manhole cover open or missing"), N_("The cover is displaced, tilted or gone: "
            "a danger to people and vehicles."), ("manhole_cover",), "manholes", "manhole,cover,hole,danger", 4, True),
    Service("cover_damaged", N_("Manhole cover damaged or noisy"), N_("The cover is cracked, sunken or rattles."),
            ("manhole_cover",), "manholes", "manhole,cover,crack,noise", 72),
    Service("bin_full", N_("Bin full or overflowing"), N_("Rubbish is piling up around the bin."),
            ("bin",), "bins", "bin,rubbish,full", 24),
    Service("bin_damaged", N_("Bin damaged"), N_("The bin is broken, burnt or moved."),
            ("bin",), "bins", "bin,broken,fire", 72),
    Service("other", N_("Something else"), N_("Any other problem with this facility."),
            ("streetlight", "manhole_cover", "bin", "other"), "other", "other", 120),
)
BY_CODE = {s.code: s for s in SERVICES}

# Device faults (beacon events, devproto) -> the category of the work order they open.
FAULTS = {"cover_open": "cover_open", "lamp_fault": "light_out", "day_burning": "light_day"}
# ...and the events that say a fault went away (lamp_ok ends either lamp fault).
RESTORES = {"cover_closed": ("cover_open",), "lamp_ok": ("lamp_fault", "day_burning")}


def for_asset_type(asset_type):
    return [s for s in SERVICES if asset_type in s.asset_types]


def resolve_hours(category):
    service = BY_CODE.get(category)
    return service.resolve_h if service else BY_CODE["other"].resolve_h


def is_urgent(category):
    service = BY_CODE.get(category)
    return bool(service and service.urgent)
