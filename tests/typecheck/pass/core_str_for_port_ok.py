"""Fixed: a port given as a string."""

from harmony import Port

ssh_port = Port(22)
