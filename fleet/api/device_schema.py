"""OpenAPI descriptions of the device endpoints, generated from devproto's tables.

The device routes read raw bytes (see fleet.api.wire), so FastAPI cannot infer their bodies;
these JSON Schemas document them - and let the schema fuzz in tests/fleet generate bodies -
without a second definition of the protocol.
"""

import devproto

_KINDS = {
    devproto.INT: {"type": "integer", "minimum": devproto.INT_MIN, "maximum": devproto.INT_MAX},
    devproto.NUM: {"type": "number"},
    devproto.STR: {"type": "string", "maxLength": devproto.MAX_STR},
    devproto.BOOL: {"type": "boolean"},
    "list": {"type": "array", "items": {"type": "string", "maxLength": devproto.MAX_STR},
             "maxItems": devproto.MAX_ERRORS},
}
_U32 = {"type": "integer", "minimum": 0, "maximum": 0xFFFFFFFF}
_NAME = {"type": "string", "minLength": 1, "maxLength": devproto.MAX_KEY}


def _object(fields, extra=None):
    props = {name: dict(_KINDS[kind]) for name, (kind, _) in fields.items()}
    props.update(extra or {})
    return {"type": "object", "additionalProperties": False, "properties": props,
            "required": [name for name, (_, required) in fields.items() if required]}


def _event():
    variants = []
    for etype, fields in devproto.EVENT_TYPES.items():
        data = ({"type": "object", "maxProperties": devproto.MAX_METRICS, "propertyNames": _NAME,
                 "additionalProperties": {"type": "number"}} if fields is None
                else _object(fields, {"ref": _NAME} if "ref" in fields else None))
        needs_data = fields is not None and any(required for _, required in fields.values())
        variants.append({"type": "object", "additionalProperties": False,
                         "required": ["seq", "t", "type"] + (["data"] if needs_data else []),
                         "properties": {"seq": {"type": "integer", "minimum": 1, "maximum": 0xFFFFFFFF},
                                        "t": {"type": "integer", "minimum": 0, "maximum": devproto.INT_MAX},
                                        "type": {"const": etype}, "data": data}})
    return {"oneOf": variants}


def _enum(values):
    return {"type": "string", "enum": list(values)}


HELLO = _object(devproto.HELLO_FIELDS, {
    "slot": _enum(devproto.SLOTS), "role": _enum(devproto.ROLES),
    "reset_cause": _enum(devproto.RESET_CAUSES), "wake_reason": _enum(devproto.WAKE_REASONS),
    "cv": _U32, "stream": _U32, "seq": _U32})
EVENTS = {"type": "object", "additionalProperties": False, "required": ["events"],
          "properties": {"stream": _U32, "cv": _U32,
                         "events": {"type": "array", "minItems": 1, "maxItems": devproto.MAX_EVENTS,
                                    "items": _event()}}}
_ENROLL_TEXT = {"type": "string", "minLength": 1, "maxLength": devproto.ENROLL_FIELD_MAX}
ENROLL = _object(devproto.ENROLL_FIELDS, {
    "hw_id": {"type": "string", "pattern": "^[0-9a-f]{12}$"}, "role": _enum(devproto.ROLES),
    "token": _ENROLL_TEXT, "board": _ENROLL_TEXT, "site": _ENROLL_TEXT})

_HEX = {"type": "string", "pattern": "^[0-9a-f]+$"}
SIGNATURE_HEADERS = [
    {"name": devproto.H_DEVICE, "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": devproto.H_TIME, "in": "header", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    {"name": devproto.H_NONCE, "in": "header", "required": True, "schema": _HEX},
    {"name": devproto.H_SIG, "in": "header", "required": True, "schema": _HEX},
    {"name": devproto.H_PROTOCOL, "in": "header", "required": False,
     "description": "1.1: sign the reply (X-Reply-Signature); absent: protocol v1, unsigned replies",
     "schema": {"type": "string", "enum": [devproto.PROTOCOL]}},
]
POLL_QUERY = [
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
    {"name": "wait", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": devproto.MAX_POLL_WAIT}},
    {"name": "cv", "in": "query", "required": False, "schema": _U32},
]


def body(schema):
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def signed(extra=None):
    out = {"parameters": SIGNATURE_HEADERS + list((extra or {}).pop("parameters", []))}
    out.update(extra or {})
    return out
