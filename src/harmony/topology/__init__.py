"""Concrete topologies: the places Scores run."""
