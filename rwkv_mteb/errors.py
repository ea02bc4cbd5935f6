"""Errors a user can act on: each message names the problem and the fix, and ends a command as one line."""


class RwkvMtebError(Exception):
    """Base class: printed as one ``error:`` line (no traceback) by the command-line entry points."""


class TaskDefinitionError(RwkvMtebError):
    """A task file in ``tasks/`` or ``$RWKV_MTEB_TASKS_DIR`` is malformed."""


class UnknownTaskError(TaskDefinitionError, KeyError):
    """A task name MTEB does not know, or whose file was skipped. Also a ``KeyError``: what mteb raises for an
    unknown name, and what its own callers catch."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(RwkvMtebError):
    """A split file is missing, has the wrong columns, is empty or fails its checksum; or the hub is needed and
    cannot be reached."""


class ModelUnavailableError(RwkvMtebError):
    """The weights of a model can be found neither locally nor on the hub."""


class UnknownModelError(ModelUnavailableError, KeyError):
    """A model name neither registered nor loadable. Also a ``KeyError``: that is what mteb raises for an unknown
    name, and what its own callers catch."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(RwkvMtebError):
    """A checkpoint is missing, corrupt, truncated, or disagrees with its config."""


class PromptError(RwkvMtebError, ValueError):
    """A zero-shot prompt is neither a built-in method nor a template with ``{text}``."""


class VariantError(RwkvMtebError, ValueError):
    """A layer-wise option (pooling, combine, layers) that does not exist."""


class CorruptFileError(RwkvMtebError):
    """A file the project reads (result, profile, model meta, provenance log, diagnostics, ...) cannot be parsed."""


class PublishError(RwkvMtebError):
    """The leaderboard refuses to publish (nothing to publish, or a results folder that does not exist)."""


class UntestedMtebError(RwkvMtebError):
    """The installed mteb is not a version whose internals :mod:`rwkv_mteb.mteb_internals` was written against."""


class TrainingOverlapError(RwkvMtebError):
    """A trained model asked to be scored on rows it was trained on."""
