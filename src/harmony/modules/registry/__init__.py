"""Scores for the site's image registry: the registry itself, images pushed to it, garbage collection."""

from harmony.modules.registry.garbage import RegistryGarbageCollection
from harmony.modules.registry.image import ImagePublisher, RegistryImage
from harmony.modules.registry.site_registry import SiteRegistry

__all__ = ["ImagePublisher", "RegistryGarbageCollection", "RegistryImage", "SiteRegistry"]
