"""Answers that are a stored picture (not a router): never cached, since each is exam material or personal data, and
declared in the schema with their media types."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from app.adapters.storage import ObjectStore
from app.models import Question

QUESTION_IMAGE_200: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The question image"}
}


def picture(data: bytes, media_type: str | None) -> Response:
    return Response(data, media_type=media_type, headers={"Cache-Control": "no-store"})


async def question_image(store: ObjectStore, question: Question) -> Response:
    """A question's image (the services hand over only a question that has one)."""
    assert question.image_key is not None
    return picture(await store.get(question.image_key), question.image_type)
