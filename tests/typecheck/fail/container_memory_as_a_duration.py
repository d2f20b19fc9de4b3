# fails: type check
"""A duration where a size belongs: sizes and durations are different types."""

from datetime import timedelta

from harmony.domain.capabilities.containers import ResourceLimits

limits = ResourceLimits(memory=timedelta(minutes=512))  # expect-error
