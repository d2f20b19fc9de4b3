# fails: type check
"""A deployment whose topology is not a Topology at all."""

from harmony import Deployment

deployment = Deployment(topology="localhost", scores=[])  # expect-error
