"""Unified configuration and secrets: typed models in code, values in a store."""
