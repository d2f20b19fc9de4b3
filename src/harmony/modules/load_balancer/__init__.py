"""Scores for load balancing."""

from harmony.modules.load_balancer.service import LoadBalancing

__all__ = ["LoadBalancing"]
