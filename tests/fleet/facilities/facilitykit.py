"""Helpers of the facilities tests: assets, images, reports through the real HTTP API."""

import io

from PIL import Image


def asset(client, headers, **values):
    body = dict({"type": "streetlight", "name": "Lamp 12", "address": "Xialu Road 12", "area": "north",
                 "maintainer": "Xialu Lighting Co", "lat": 30.6, "lon": 114.3, "install_date": "2024-05-01"}, **values)
    response = client.post("/api/v1/assets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def jpeg(width=64, height=48, exif=None, color=(200, 30, 30)):
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", exif=exif or b"")
    return out.getvalue()


def gps_exif():
    """EXIF with a GPS position and a camera serial number: what a phone photo carries."""
    exif = Image.Exif()
    exif[0xA431] = "SERIAL-1234"                                   # BodySerialNumber
    exif[0x8825] = {1: "N", 2: (30.0, 36.0, 0.0), 3: "E", 4: (114.0, 18.0, 0.0)}   # GPSInfo
    return exif.tobytes()


def report(client, code=None, service_code="light_out", files=None, **fields):
    data = {"service_code": service_code, **fields}
    if code is not None:
        data["address_id"] = code
    return client.post("/open311/v2/requests.json", data=data, files=files)


class HookReceiver:
    """A real local HTTP receiver of webhook deliveries (a thread on 127.0.0.1, port from the OS)."""

    def __init__(self):
        import http.server
        import threading
        self.requests = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
