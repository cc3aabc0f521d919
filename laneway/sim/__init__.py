"""A simulated OpenAI-compatible model server for the demo, the tests and the benchmarks."""

from laneway.sim.app import create_app
from laneway.sim.config import SimConfig
from laneway.sim.faults import FaultSettings
from laneway.sim.profiles import PROFILES, Profile, get_profile

__all__ = ["PROFILES", "FaultSettings", "Profile", "SimConfig", "create_app", "get_profile"]
