"""Scores for bare-metal machines: network discovery, then roles and installation."""

from harmony.modules.bare_metal.discovery import NetworkDiscovery
from harmony.modules.bare_metal.roles import MachineRoles

__all__ = ["MachineRoles", "NetworkDiscovery"]
