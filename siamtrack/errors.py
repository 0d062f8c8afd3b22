"""The one exception type for problems a user can fix (bad paths, boxes, files, configs)."""


class SiamtrackError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with code 2."""
