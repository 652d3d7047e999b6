"""Devices for people: list, detail, events, commands, config, tags, revoke, rotate the secret."""

from typing import Optional

from fastapi import APIRouter, Body, Depends, Query

from fleet.api.deps import get_db, require, runtime
from fleet.api.schemas import (ERROR_RESPONSES, MAX_ID, BeforeId, CommandIn, CommandOut, DeviceOut, DeviceRole, EventOut,
                               RevokeIn, RotateOut, TagsIn)
from fleet.domain import commands, devices, tags

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[DeviceOut], summary="List devices")
def list_devices(role: Optional[DeviceRole] = None, status: Optional[str] = None, site: Optional[str] = None,
                 hw_id: Optional[str] = Query(None, pattern="^[0-9a-f]{12}$",
                                              description="the device's Wi-Fi MAC, 12 lowercase hex digits"),
                 tag: Optional[list[str]] = Query(None, max_length=16,
                                                  description="only devices with this tag (repeat: with all of them)"),
                 limit: int = Query(1000, ge=1, le=10000), offset: int = Query(0, ge=0, le=MAX_ID),
                 db=Depends(get_db), who=Depends(require("devices.read"))):
    return devices.list_devices(db, role, status, site, limit, offset, hw_id=hw_id, tags=tag)


@router.get("/{device_id}", response_model=DeviceOut, summary="One device")
def get_device(device_id: str, db=Depends(get_db), who=Depends(require("devices.read"))):
    return devices.get_device(db, device_id)


@router.get("/{device_id}/events", response_model=list[EventOut], summary="A device's events, newest first")
def list_events(device_id: str, limit: int = Query(100, ge=1, le=1000), before_id: BeforeId = None,
                type: Optional[str] = None, db=Depends(get_db), who=Depends(require("devices.events"))):
    return devices.list_events(db, device_id, limit, before_id, type)


@router.put("/{device_id}/config", response_model=DeviceOut, summary="Change config keys (pushed in `down`)")
def set_config(device_id: str, changes: dict[str, int] = Body(..., examples=[{"heartbeat_min": 60}]),
               db=Depends(get_db), rt=Depends(runtime), who=Depends(require("devices.configure"))):
    device = devices.set_config(db, who, device_id, changes)
    rt.device_changed(device_id, downlink=True)
    return device


@router.put("/{device_id}/tags", response_model=DeviceOut, summary="Set a device's tags (an empty list clears them)")
def set_tags(device_id: str, body: TagsIn, db=Depends(get_db), rt=Depends(runtime), who=Depends(require("devices.tag"))):
    tags.set_tags(db, who, device_id, body.tags)
    rt.device_changed(device_id)
    return devices.get_device(db, device_id)


@router.put("/{device_id}/tags/{tag}", response_model=DeviceOut, summary="Add a tag to a device")
def add_tag(device_id: str, tag: str, db=Depends(get_db), rt=Depends(runtime), who=Depends(require("devices.tag"))):
    tags.add_tags(db, who, device_id, [tag])
    rt.device_changed(device_id)
    return devices.get_device(db, device_id)


@router.delete("/{device_id}/tags/{tag}", response_model=DeviceOut,
               summary="Remove a tag from a device (one it does not have: no change)")
def remove_tag(device_id: str, tag: str, db=Depends(get_db), rt=Depends(runtime), who=Depends(require("devices.tag"))):
    tags.remove_tags(db, who, device_id, [tag])
    rt.device_changed(device_id)
    return devices.get_device(db, device_id)


@router.get("/{device_id}/commands", response_model=list[CommandOut], summary="Commands sent to a device")
def list_commands(device_id: str, db=Depends(get_db), who=Depends(require("devices.events"))):
    devices.get_device(db, device_id)
    return commands.list_commands(db, device_id)


@router.post("/{device_id}/commands", status_code=201, response_model=CommandOut, summary="Send a command")
def send_command(device_id: str, body: CommandIn, db=Depends(get_db), rt=Depends(runtime),
                 who=Depends(require("devices.command"))):
    command = commands.send_command(db, who, device_id, body.name, body.args)
    rt.device_changed(device_id, downlink=True)
    return command


@router.post("/{device_id}/revoke", response_model=DeviceOut, summary="Revoke: the device is refused from now on")
def revoke(device_id: str, body: Optional[RevokeIn] = None, db=Depends(get_db), rt=Depends(runtime),
           who=Depends(require("devices.revoke"))):
    device = devices.revoke(db, who, device_id, body.reason if body else None)
    rt.device_changed(device_id)
    return device


@router.post("/{device_id}/rotate-secret", response_model=RotateOut, summary="New secret (shown once)")
def rotate_secret(device_id: str, db=Depends(get_db), rt=Depends(runtime), who=Depends(require("devices.rotate"))):
    device, secret = devices.rotate_secret(db, rt.box, who, device_id)
    rt.device_changed(device_id)
    return {"device": device, "secret": secret}
