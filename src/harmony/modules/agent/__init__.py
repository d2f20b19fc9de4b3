"""Installing the always-on agent on a host: its one-file binary, its credentials, and its service."""
