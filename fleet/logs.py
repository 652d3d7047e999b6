"""Where the server's log lines go and how they look: stderr, one line per record.

FLEET_LOG_FORMAT=text (default): `2026-12-06 10:01:00,125 INFO fleet.api: message`.
FLEET_LOG_FORMAT=json: one JSON object per line for log collectors (Loki, Elasticsearch...):
{"time": "2026-12-06T10:01:00.125Z", "level": "INFO", "logger": "fleet.api", "message": "...",
 "exc_info": "Traceback..." when there is one, plus any `extra=` fields}.
uvicorn's own loggers are sent through the same handler, so every line has one format.
"""

import logging
import time

from pythonjsonlogger.json import JsonFormatter

from fleet.errors import Invalid

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _UtcJsonFormatter(JsonFormatter):
    converter = time.gmtime

    def formatTime(self, record, datefmt=None):
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + ".%03dZ" % record.msecs


def formatter(log_format):
    if log_format == "json":
        return _UtcJsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                 rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
    if log_format == "text":
        return logging.Formatter(TEXT)
    raise Invalid("FLEET_LOG_FORMAT must be one of %s, not %r" % (", ".join(FORMATS), log_format))


def configure(level, log_format):
    """Send every logger's records (ours and uvicorn's) to stderr in `log_format` from `level` up."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
