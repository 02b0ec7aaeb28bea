"""Placeholder until the SFU lands: behaves like NoMediaBackend."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from sfu.api import NoMediaBackend
from sfu.config import Settings
from sfu.api import Notifier


class SfuBackend(NoMediaBackend):
    def __init__(self, settings: Settings, notifier: Notifier, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.notifier = notifier
