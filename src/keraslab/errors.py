"""Expected failures. Each carries a one-line message and the exit code the CLI uses."""


class KeraslabError(Exception):
    """An expected failure: bad input, missing data, a bad argument. The CLI prints it as one line."""

    exit_code = 1


class UsageError(KeraslabError, ValueError):
    """A bad command-line or function argument."""

    exit_code = 2


class BackendError(KeraslabError):
    """The requested Keras backend cannot be used."""


class DataError(KeraslabError):
    """A data file is missing, corrupt or not in the expected format."""


class DataMissingError(DataError):
    """A data file is absent and cannot be downloaded (offline, or the download failed)."""


class ChecksumError(DataError):
    """A data file's sha256 differs from the registry's."""


class DataFormatError(DataError, ValueError):
    """A data file does not parse as the expected format."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM: the command stops, in one line that says how to resume where it can. A
    KeyboardInterrupt, so that everything that cleans up after Ctrl-C cleans up after it too."""

    def __init__(self, message: str = "interrupted", exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code
