"""Model names the OpenAI-compatible API accepts, and the lane each one means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.errors import ApiError
from laneway.lanes import LANES, Lane
from laneway.settings import Settings

AUTO = "auto"
LANE_PREFIX = "laneway/"


@dataclass(frozen=True, slots=True)
class ModelEntry:
    id: str
    lane: Lane | None
    description: str


def model_entries(settings: Settings) -> list[ModelEntry]:
    entries = [ModelEntry(AUTO, None, "classify the request and route it to a lane")]
    entries += [
        ModelEntry(f"{LANE_PREFIX}{lane}", lane, f"force the {lane} lane") for lane in LANES
    ]
    seen = {entry.id for entry in entries}
    for lane in LANES:
        for backend in settings.lanes[lane].backends:
            if backend.model not in seen:
                seen.add(backend.model)
                entries.append(ModelEntry(backend.model, lane, f"served by {backend.name}"))
    return entries


def find_model(name: str, settings: Settings) -> ModelEntry:
    """The entry ``GET /v1/models`` lists under ``name``; 404 for unknown names."""
    for entry in model_entries(settings):
        if entry.id == name:
            return entry
    raise ApiError(
        404,
        f"The model '{name}' does not exist. Use 'auto', 'laneway/<lane>' or a configured "
        "backend model (GET /v1/models lists them).",
        param="model",
        code="model_not_found",
        error_type="invalid_request_error",  # what OpenAI answers for an unknown model
    )


def resolve_model(name: str, settings: Settings) -> Lane | None:
    """The lane a model name forces, ``None`` to classify; 404 for unknown names."""
    if name == AUTO:
        return None
    return find_model(name, settings).lane


def model_object(entry: ModelEntry) -> dict[str, Any]:
    """OpenAI's ``model`` object, plus the lane it routes to and what it means."""
    return {
        "id": entry.id,
        "object": "model",
        "created": 0,
        "owned_by": "laneway",
        "lane": entry.lane,
        "description": entry.description,
    }


def backend_model_name(name: str) -> str | None:
    """``name`` when it names a backend model rather than ``auto`` or a lane alias."""
    return None if name == AUTO or name.startswith(LANE_PREFIX) else name
