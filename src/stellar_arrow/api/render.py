"""Response bodies by ``Accept``: JSON (default), Arrow IPC stream or CSV, with exact amounts in all three."""

from __future__ import annotations

from typing import Any, Final, Literal

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
from starlette.requests import Request
from starlette.responses import Response

from stellar_arrow.sink.textfiles import json_ready

__all__ = ["ARROW_MEDIA_TYPE", "CSV_MEDIA_TYPE", "JsonResponse", "MediaKind", "negotiate", "table_response"]

ARROW_MEDIA_TYPE: Final = "application/vnd.apache.arrow.stream"
CSV_MEDIA_TYPE: Final = "text/csv"
MediaKind = Literal["json", "arrow", "csv"]


class JsonResponse(Response):
    """orjson-encoded JSON (the broadcast and REST paths share the encoder)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def negotiate(request: Request) -> MediaKind:
    accept = request.headers.get("accept", "")
    if ARROW_MEDIA_TYPE in accept:
        return "arrow"
    if CSV_MEDIA_TYPE in accept:
        return "csv"
    return "json"


def table_response(table: pa.Table, kind: MediaKind, headers: dict[str, str] | None = None) -> Response:
    """Arrow IPC stream or CSV of ``table`` (JSON callers build their own envelope)."""
    if kind == "arrow":
        out = pa.BufferOutputStream()
        with pa.ipc.new_stream(out, table.schema) as writer:
            writer.write_table(table)
        return Response(out.getvalue().to_pybytes(), media_type=ARROW_MEDIA_TYPE, headers=headers)
    out = pa.BufferOutputStream()
    pacsv.write_csv(json_ready(table), out)
    return Response(out.getvalue().to_pybytes(), media_type=CSV_MEDIA_TYPE, headers=headers)
