"""Errors a user can act on: each message names the problem and the fix."""


class RwkvMtebError(Exception):
    """Base class: printed as one line (no traceback) by the command-line entry points."""


class TaskDefinitionError(RwkvMtebError):
    """A task file in ``tasks/`` or ``$RWKV_MTEB_TASKS_DIR`` is malformed."""


class DataError(RwkvMtebError):
    """A split file is missing, has the wrong columns, is empty or fails its checksum."""


class ModelUnavailableError(RwkvMtebError):
    """The weights of a model can be found neither locally nor on the hub."""


class UnknownModelError(ModelUnavailableError, KeyError):
    """A model name neither registered nor loadable. Also a ``KeyError``: that is what mteb raises for an unknown
    name, and what its own callers catch."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CorruptFileError(RwkvMtebError):
    """A file the project reads (result, profile, model meta, provenance log, diagnostics, ...) cannot be parsed."""


class PublishError(RwkvMtebError):
    """The leaderboard refuses to publish (nothing to publish, or a results folder that does not exist)."""
