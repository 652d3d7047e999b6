"""The application bundle: every file of an app slot in one artifact (format in
firmware/app/devproto/ota.py, read on the board by firmware/app/otaapp.py), built from the
firmware tree the way a board runs it (.mpy by mpy-cross, app.json with the release's version)."""

import hashlib
import json
import struct
from pathlib import Path

from boards.fsimage import FIRMWARE_DIR, compile_app, _iter_tree
from devproto import ota
from fleet.errors import Invalid


def app_files(version, firmware_dir=None, compiled=True):
    """{relative path: bytes} of the app slot for `version` (firmware/app/**, .py compiled)."""
    app = Path(firmware_dir or FIRMWARE_DIR) / "app"
    if not (app / "supervisor.py").is_file():
        raise Invalid("%s is not a firmware app tree (no supervisor.py)" % app)
    if ota.parse_version(version) is None:
        raise Invalid("version %r: use three numbers, x.y.z" % version)
    files = {"/app_a/" + p.relative_to(app).as_posix(): p.read_bytes() for p in _iter_tree(app)}
    files["/app_a/app.json"] = json.dumps({"version": version}).encode()
    if compiled:
        files = compile_app(files)
    return {path[len("/app_a/"):]: data for path, data in files.items()}


def pack(files):
    """The bundle bytes of {relative path: bytes}; app.json last (the board writes it last)."""
    out = [ota.BUNDLE_MAGIC]
    for path in sorted(files, key=lambda p: (p == "app.json", p)):
        name = path.encode()
        if not name or len(name) > 200 or name.startswith(b"/") or b".." in name.split(b"/"):
            raise Invalid("bundle path %r is not a plain relative path" % path)
        data = files[path]
        out.append(struct.pack("<H", len(name)) + name + struct.pack("<L", len(data))
                   + hashlib.sha256(data).digest() + data)
    out.append(struct.pack("<H", 0))
    return b"".join(out)


def unpack(blob):
    """{relative path: bytes} of a bundle; Invalid if it is malformed or a file's hash is wrong."""
    if not blob.startswith(ota.BUNDLE_MAGIC):
        raise Invalid("not an app bundle (magic)")
    files, i = {}, len(ota.BUNDLE_MAGIC)
    try:
        while True:
            (n,) = struct.unpack_from("<H", blob, i)
            i += 2
            if n == 0:
                break
            name = blob[i:i + n].decode()
            i += n
            (size,) = struct.unpack_from("<L", blob, i)
            digest = blob[i + 4:i + 36]
            data = blob[i + 36:i + 36 + size]
            i += 36 + size
            if len(data) != size or hashlib.sha256(data).digest() != digest:
                raise Invalid("bundle file %s is damaged" % name)
            files[name] = data
    except struct.error:
        raise Invalid("the bundle is truncated")
    if i != len(blob):
        raise Invalid("bytes after the end of the bundle")
    if "app.json" not in files:
        raise Invalid("the bundle has no app.json")
    return files
