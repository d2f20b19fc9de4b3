"""Helpers for testing deployments against real hosts (see ``ssh_lab``)."""
