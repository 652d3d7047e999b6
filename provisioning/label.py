"""QR labels: one SVG per device (segno) and a printable A4 sheet of them (reportlab).

A label carries a URL and the human-readable id under the code. For a device the URL is its
page in the fleet (<fleet>/devices?id=<device id>): what a technician scans to see it. For a
facility asset the code is the asset's public identity, defined once in devproto.assetcode (the
facilities capability's registry makes the codes): the URL is its public page (<fleet>/a/<code>)
and the text its printed code (K7QM-4XPA).
"""

import dataclasses
import io
from pathlib import Path
from urllib.parse import quote

import segno

from . import errors

# Common label grids on A4 (mm): Avery/Herma-style sheets
GRIDS = {
    "3x8": {"cols": 3, "rows": 8, "w": 70.0, "h": 37.0, "left": 0.0, "top": 0.5},
    "4x10": {"cols": 4, "rows": 10, "w": 48.5, "h": 25.4, "left": 8.0, "top": 21.5},
    "2x7": {"cols": 2, "rows": 7, "w": 99.1, "h": 38.1, "left": 4.65, "top": 15.15},
}


@dataclasses.dataclass
class Label:
    url: str
    title: str               # big text under the code: the device id or the asset's printed code
    subtitle: str = ""       # small text: role, site, MAC


def device_label(fleet_url, device_id, role=None, site=None, mac=None):
    url = "%s/devices?id=%s" % (fleet_url.rstrip("/"), quote(device_id))
    sub = " · ".join(x for x in (role, site, mac) if x)
    return Label(url=url, title=device_id, subtitle=sub)


def asset_label(fleet_url, code, subtitle=""):
    from devproto import assetcode
    canon = assetcode.normalise(code)
    if canon is None or not assetcode.is_valid(canon):
        raise errors.ProvisionError("%r is not a valid asset code" % code, fix="Copy the code from the asset registry.")
    return Label(url=assetcode.public_url(fleet_url, canon), title=assetcode.label(canon), subtitle=subtitle)


def svg(label, scale=4):
    """The label as SVG text: the QR code (error correction M) with the title under it."""
    qr = segno.make(label.url, error="m")
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True)
    code = buf.getvalue().decode()
    w, h = qr.symbol_size(scale=scale, border=2)
    text_h = 14 * scale // 4 + 4
    body = code[code.index(">") + 1:code.rindex("</svg>")]
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")   # noqa: E731
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
            '<rect width="100%%" height="100%%" fill="#fff"/>%s'
            '<text x="%d" y="%d" font-family="monospace" font-size="%d" text-anchor="middle">%s</text>'
            '<text x="%d" y="%d" font-family="sans-serif" font-size="%d" text-anchor="middle">%s</text></svg>'
            % (w, h + 2 * text_h, w, h + 2 * text_h, body, w // 2, h + text_h - 4, 3 * scale, esc(label.title),
               w // 2, h + 2 * text_h - 6, 2 * scale, esc(label.subtitle)))


def write_svgs(labels, folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for lab in labels:
        p = folder / ("%s.svg" % "".join(c if c.isalnum() or c in "-_" else "_" for c in lab.title))
        p.write_text(svg(lab))
        out.append(p)
    return out


def pdf_sheet(labels, path, grid="3x8"):
    """A4 sheets of labels in one of GRIDS; returns the number of pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas
    if grid not in GRIDS:
        raise errors.ProvisionError("unknown label grid %r" % grid, fix="Use one of: %s" % ", ".join(GRIDS))
    g = GRIDS[grid]
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("Device labels")
    page_h = A4[1]
    per_page = g["cols"] * g["rows"]
    pages = 0
    for i, lab in enumerate(labels):
        if i % per_page == 0:
            if i:
                c.showPage()
            pages += 1
        n = i % per_page
        col, row = n % g["cols"], n // g["cols"]
        x = (g["left"] + col * g["w"]) * mm
        y = page_h - (g["top"] + (row + 1) * g["h"]) * mm
        side = min(g["h"] - 6, g["w"] * 0.45) * mm
        qr = segno.make(lab.url, error="m")
        matrix = list(qr.matrix_iter(scale=1, border=0))
        cell = side / len(matrix)
        qx, qy = x + 2 * mm, y + (g["h"] * mm - side) / 2
        for r, line in enumerate(matrix):
            for k, dark in enumerate(line):
                if dark:
                    c.rect(qx + k * cell, qy + side - (r + 1) * cell, cell, cell, stroke=0, fill=1)
        tx = qx + side + 3 * mm
        c.setFont("Courier-Bold", 10)
        c.drawString(tx, y + g["h"] * mm / 2 + 2 * mm, lab.title)
        c.setFont("Helvetica", 6.5)
        c.drawString(tx, y + g["h"] * mm / 2 - 3 * mm, lab.subtitle[:40])
    c.save()
    return pages
