"""Errors the product raises on purpose; the CLI and API turn them into clear messages."""

from __future__ import annotations


class MspilotError(Exception):
    """Base class: a message meant for a person, never a traceback."""

    exit_code = 1


class UserInputError(MspilotError):
    """The caller asked for something that cannot be done as asked."""

    exit_code = 2


class ConfigurationError(MspilotError):
    """A setting is missing or wrong; the message says which and how to fix it."""

    exit_code = 3


class DataError(MspilotError):
    """Stored data is missing or inconsistent (e.g. no demo loaded yet)."""

    exit_code = 4
