"""Adapters behind capabilities: one tool per module. Library errors are translated here, never above."""
