"""The no-workflow shape: a route writes a note and queues it, the consumer indexes it."""

from __future__ import annotations

import uuid

from runtime.contracts import Context, HttpError, Message, Request, Response

JSON = {"content-type": "application/json"}


def create_note(request: Request, ctx: Context) -> Response:
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
        raise HttpError(400, "ValidationFailed", "text is required", [{"field": "text", "message": "required"}])
    note_id = str(uuid.uuid4())
    ctx.tables["notes"].put({"note_id": note_id, "text": body["text"], "indexed": False}, if_absent=True)
    ctx.queues["indexing"].send({"note_id": note_id})
    return Response(201, {"note_id": note_id}, {**JSON, "location": f"/notes/{note_id}"})


def get_note(request: Request, ctx: Context) -> Response:
    item = ctx.tables["notes"].get({"note_id": request.path_params.get("note_id", "")})
    if item is None:
        raise HttpError(404, "NotFound", "no such note")
    return Response(200, item, JSON)


def index_note(message: Message, ctx: Context) -> None:
    """Stores the note's distinct words; a message naming no stored note raises (retried, then dead-lettered)."""
    key = {"note_id": message.body["note_id"]}
    item = ctx.tables["notes"].get(key)
    if item is None:
        raise LookupError(f"note {key['note_id']} not found")
    ctx.tables["notes"].update(key, {"indexed": True, "words": sorted(set(item["text"].lower().split()))})
