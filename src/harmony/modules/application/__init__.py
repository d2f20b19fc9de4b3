"""Scores for containerised applications: images built offline, containers, blue-green applications."""

from harmony.modules.application.application import AppHost, Application
from harmony.modules.application.container import Container
from harmony.modules.application.exposure import Exposure
from harmony.modules.application.image import BusyboxImage, ImageBuilder
from harmony.modules.application.reachable import ApplicationReachable
from harmony.modules.application.smoke import Check, CommandCheck, HttpCheck, TcpCheck

__all__ = [
    "AppHost",
    "Application",
    "ApplicationReachable",
    "BusyboxImage",
    "Check",
    "CommandCheck",
    "Container",
    "Exposure",
    "HttpCheck",
    "ImageBuilder",
    "TcpCheck",
]
