# fails: type check
"""An SSH address given as a bare string instead of an IP address or a Hostname."""

from harmony.topology.linux_host import LinuxHost

host = LinuxHost.ssh("10.0.0.2")  # expect-error
