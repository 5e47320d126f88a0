"""mspilot: an AI analyst for managed service providers."""

__version__ = "0.1.0"
