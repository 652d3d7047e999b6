"""Every bin as a FIWARE WasteContainer entity in NGSI-LD (normalised: each attribute a
Property, the location a GeoProperty with a GeoJSON Point), as the Smart Data Models'
dataModel.WasteManagement describes it: `id` (a URN), `type`, `location` are the required ones;
fillingLevel 0..1, temperature, status (ok, lidOpen, dropped, burning), dateLastEmptying,
nextActuationDeadline (the forecast's threshold time), storedWasteKind, refDevice.
validate(entity) checks what the model requires, so a broken export fails our tests first.
"""

from fleet.core import clock

CONTEXT = ["https://raw.githubusercontent.com/smart-data-models/dataModel.WasteManagement/master/context.jsonld",
           "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]
REQUIRED = ("id", "type", "location")
STATUS = ("ok", "lidOpen", "closed", "opened", "dropped", "moved", "burning", "broken")
URN = "urn:ngsi-ld:WasteContainer:"


def _prop(value, observed=None):
    p = {"type": "Property", "value": value}
    if observed:
        p["observedAt"] = observed
    return p


def _datetime(t):
    return {"@type": "DateTime", "@value": clock.iso(t)}


def entity(b, fc=None):
    """The entity of a bin row (bins.get/list_bins) and its forecast (forecast.forecast) or None."""
    seen = clock.iso(b["fill_t"]) if b.get("fill_t") else None
    e = {"id": URN + b["id"], "type": "WasteContainer", "@context": CONTEXT}
    if b.get("lat") is not None:
        e["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [b["lon"], b["lat"]]}}
    if b.get("name"):
        e["name"] = _prop(b["name"])
    if b.get("pct") is not None:
        e["fillingLevel"] = _prop(round(b["pct"] / 100.0, 2), seen)
    if b.get("temp_c") is not None:
        e["temperature"] = _prop(b["temp_c"], seen)
    e["status"] = _prop(b.get("status") or "ok")
    e["storedWasteKind"] = _prop(b["waste_type"])
    e["binCapacity"] = _prop(b["capacity_l"])
    if b.get("area"):
        e["areaServed"] = _prop(b["area"])
    if b.get("emptied_t"):
        e["dateLastEmptying"] = _prop(_datetime(b["emptied_t"]))
    if fc and fc.get("threshold_at"):
        e["nextActuationDeadline"] = _prop(_datetime(fc["threshold_at"]))
    if b.get("device_id"):
        e["refDevice"] = {"type": "Relationship", "object": "urn:ngsi-ld:Device:" + b["device_id"]}
    return e


def validate(e):
    """Problems of an entity against the WasteContainer model (an empty list: valid)."""
    problems = ["missing %s" % k for k in REQUIRED if k not in e]
    if not str(e.get("id", "")).startswith("urn:ngsi-ld:"):
        problems.append("id must be a URN")
    if e.get("type") != "WasteContainer":
        problems.append("type must be WasteContainer")
    loc = e.get("location", {}).get("value", {})
    if "location" in e and (loc.get("type") != "Point" or len(loc.get("coordinates", [])) != 2):
        problems.append("location must be a GeoJSON Point")
    fl = e.get("fillingLevel", {}).get("value")
    if fl is not None and not 0 <= fl <= 1:
        problems.append("fillingLevel must be within 0..1")
    if e.get("status", {}).get("value") not in STATUS:
        problems.append("status must be one of " + ", ".join(STATUS))
    for k, v in e.items():
        if k not in ("id", "type", "@context") and (not isinstance(v, dict) or v.get("type") not in
                                                    ("Property", "GeoProperty", "Relationship")):
            problems.append("%s must be a Property, GeoProperty or Relationship" % k)
    return problems
