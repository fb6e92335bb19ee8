"""Deprecated: moved to freezeg.models.networks (re-exported here for one release)."""

from .models.networks import *  # noqa: F401,F403
