# fails: load
"""A template that uses a variable nobody gave a value."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile, render_template
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
conf = render_template(  # expect-load-error: server_name
    "listen {{ port }}\nserver_name {{ server_name }}\n", {"port": 80}
)
deployment = Deployment(topology=host, scores=[ManagedFile(path=PurePosixPath("/etc/site.conf"), content=conf)])
