"""How a lane chooses a backend among those that may take the call, per lane in config
(``lanes.<lane>.balancing``). A strategy turns the candidates into a :class:`Plan`
— an order and a mode — that the slot-take script carries out while it takes the
slot, so choosing and taking stay one Redis round trip (see workers/balancing.py)."""

from __future__ import annotations

from laneway.lanes import Lane
from laneway.settings import LaneConfig
from workers.selection.affinity import Affinity
from workers.selection.least_in_flight import LeastInFlight
from workers.selection.lowest_cost import LowestCost
from workers.selection.peak_ewma import PeakEwma
from workers.selection.plan import JobFacts, Observation, Plan, Selection
from workers.selection.power_of_two import PowerOfTwoChoices
from workers.selection.weighted_round_robin import WeightedRoundRobin


def selection_for(lane: Lane, config: LaneConfig) -> Selection:
    balancing = config.balancing
    match balancing.strategy:
        case "least-in-flight":
            return LeastInFlight()
        case "weighted-round-robin":
            return WeightedRoundRobin(lane)
        case "power-of-two-choices":
            return PowerOfTwoChoices()
        case "peak-ewma":
            return PeakEwma(balancing.ewma_decay_seconds)
        case "lowest-cost":
            return LowestCost()
        case "affinity":
            return Affinity(balancing, config.backends)


__all__ = ["JobFacts", "Observation", "Plan", "Selection", "selection_for"]
