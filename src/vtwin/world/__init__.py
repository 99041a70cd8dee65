"""What exists in a scenario: edge servers, vehicles, sensors, mobility, workload, backhaul."""

from vtwin.world.scenario import Scenario, Sensors, Vehicles, build_scenario
from vtwin.world.servers import EdgeServers, ServerKind

__all__ = ["EdgeServers", "Scenario", "Sensors", "ServerKind", "Vehicles", "build_scenario"]
