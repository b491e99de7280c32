"""The one exception the verbs raise for problems the user can fix."""


class CliError(Exception):
    """Shown as one line on stderr; the process exits with `status`."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status
