"""Version v1 of the fleet web app."""

from examples.fleet_web.app import web

score = web("v1")
