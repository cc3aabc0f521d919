"""Model names the OpenAI-compatible API accepts, and the lane each one means."""

from __future__ import annotations

from dataclasses import dataclass

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


def resolve_model(name: str, settings: Settings) -> Lane | None:
    """The lane a model name forces, ``None`` to classify; 404 for unknown names."""
    if name == AUTO:
        return None
    for entry in model_entries(settings):
        if entry.id == name:
            return entry.lane
    raise ApiError(
        404,
        f"The model '{name}' does not exist. Use 'auto', 'laneway/<lane>' or a configured "
        "backend model (GET /v1/models lists them).",
        param="model",
        code="model_not_found",
    )


def backend_model_name(name: str) -> str | None:
    """``name`` when it names a backend model rather than ``auto`` or a lane alias."""
    return None if name == AUTO or name.startswith(LANE_PREFIX) else name
