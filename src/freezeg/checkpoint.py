"""Deprecated: moved to freezeg.models.checkpoint (re-exported here for one release)."""

from .models.checkpoint import *  # noqa: F401,F403
