# fails: type check
"""A load-balancing Score with no frontend at all."""

from harmony.modules.load_balancer import LoadBalancing

lb = LoadBalancing(frontends=())  # expect-error
