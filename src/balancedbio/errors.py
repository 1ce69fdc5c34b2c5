"""Exceptions that carry a message meant for the user.

The CLI prints a ``BalancedBioError`` as one line and exits non-zero; anything else is a bug and keeps
its traceback.
"""


class BalancedBioError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 2


class ConfigError(BalancedBioError):
    """A config file or override is wrong: unknown key, wrong type, value out of range."""


class ModelError(BalancedBioError):
    """A model can't be found, read or converted."""


class DataError(BalancedBioError):
    """An input data file is missing or malformed."""


class OutputError(BalancedBioError):
    """An output path can't be used: it is a file, not writable, or exists without --force."""


class NotBuiltError(BalancedBioError):
    """A feature that is planned but not implemented yet."""

    exit_code = 3
