"""Errors a user can act on: printed as one line by the CLI, never as a traceback."""


class UserError(Exception):
    """A mistake the user can fix (bad argument, unreadable file…); exit code 1."""


class StoreError(Exception):
    """A store problem a user can act on; the message names the file."""


class UsageError(UserError):
    """A command line that asks for something impossible or says nothing; exit code 2."""
