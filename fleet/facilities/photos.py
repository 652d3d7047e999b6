"""Photos people send (a citizen's report, an asset, a technician's resolution): checked and
re-encoded before anything keeps them.

What is checked: the declared content type is one of JPEG, PNG or WebP; the upload is at most
MAX_BYTES; Pillow can decode it as that very format (a script renamed .jpg is refused); it has at
most MAX_PIXELS (no decompression bombs). What is kept: a fresh JPEG, turned upright by its
orientation tag and at most MAX_SIDE pixels a side, written without any metadata - the EXIF block
(with GPS position, camera serial, time) is not copied, so what the phone recorded stays with
the phone. Only this re-encoded image is stored and ever shown.
"""

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from fleet.errors import Invalid

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 1600
QUALITY = 80
TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def reencode(data, content_type):
    """(jpeg_bytes, width, height) of an uploaded photo, or Invalid (code photo_type, photo_size,
    photo_unreadable) saying what is wrong."""
    kind = TYPES.get((content_type or "").split(";")[0].strip().lower())
    if kind is None:
        raise Invalid("a photo must be JPEG, PNG or WebP (got %r)" % (content_type or "nothing")[:60],
                      code="photo_type")
    if not data:
        raise Invalid("the photo is empty", code="photo_unreadable")
    if len(data) > MAX_BYTES:
        raise Invalid("a photo may be at most %d MB" % (MAX_BYTES // (1024 * 1024)), code="photo_size")
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            if image.width * image.height > MAX_PIXELS:
                raise Invalid("the photo has too many pixels (at most %d million)" % (MAX_PIXELS // 1_000_000),
                              code="photo_size")
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise Invalid("the file is not a readable %s image" % kind, code="photo_unreadable")
    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=QUALITY, optimize=True)       # no exif=: nothing of the original's metadata
    return out.getvalue(), rgb.width, rgb.height


def store(tx_or_db, owner, owner_id, encoded, actor, now_iso):
    """Insert a photo re-encoded by reencode() ((jpeg, width, height): done before the transaction,
    off the writer - it takes tens of milliseconds) inside the caller's transaction; its id."""
    jpeg, width, height = encoded
    conn = tx_or_db.conn
    cur = conn.execute("INSERT INTO facility_photos (owner, owner_id, image, width, height, size, created_at, "
                       "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (owner, owner_id, jpeg, width, height, len(jpeg), now_iso, str(actor)))
    return cur.lastrowid


def get(db, photo_id):
    found = db.conn.execute("SELECT owner, owner_id, image FROM facility_photos WHERE id = ?", (photo_id,)).fetchone()
    return found


def ids_of(db, owner, owner_id):
    return [r[0] for r in db.conn.execute("SELECT id FROM facility_photos WHERE owner = ? AND owner_id = ? ORDER BY id",
                                          (owner, owner_id))]
