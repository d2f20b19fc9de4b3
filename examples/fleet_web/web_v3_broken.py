"""A bad version: the process exits at once, so the canary fails and the rollout halts."""

from examples.fleet_web.app import web

score = web("v3", broken=True)
