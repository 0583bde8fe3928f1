"""What the server tells the evaluator factory (re-exported by ``factory``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from loopcore.providers.base import Message

__all__ = ["FactoryOptions", "JudgeModel"]


@runtime_checkable
class JudgeModel(Protocol):
    """A model a ``judge`` spec asks: a blocking call that returns the model's text."""

    @property
    def name(self) -> str:
        """Which model answers (journaled in the result)."""
        ...

    def ask(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        """The model's answer to ``messages``. Raises ``ProviderError`` when it cannot."""
        ...


@dataclass(frozen=True, kw_only=True)
class FactoryOptions:
    """Settings the factory needs beyond the spec; the server builds one from its settings.

    Attributes:
        regex_timeout_s: time limit for one search of one user-supplied pattern.
        evaluation_budget_s: time limit for one whole evaluation: every pattern,
            composite part and schema keyword together (a ``command``'s run time
            is not counted: it has its own limit). Past it the evaluation answers
            a "timed out" deficiency.
        allow_commands: program names (or exact paths) the ``command`` evaluator
            may run; empty turns the feature off.
        project_root: the directory commands run in; required for command specs.
        command_timeout_s: the default and the upper limit of a command's run time.
        max_output_bytes: how much of a command's output is kept.
        environ: the server's environment, from which a command's minimal base
            (PATH, HOME, LANG, ...) and the variables its spec names are taken.
            ``loopcore`` never reads the process environment itself; without this, a
            command gets only ``PATH=os.defpath``.
        judge: the model a ``judge`` spec asks; None refuses such specs.
        commands_approved: a person approved running this call's ``command`` specs
            that ask for approval; without it such a spec refuses to run.
    """

    regex_timeout_s: float = 0.5
    evaluation_budget_s: float = 5.0
    allow_commands: frozenset[str] = frozenset()
    project_root: Path | None = None
    command_timeout_s: float = 120.0
    max_output_bytes: int = 1_000_000
    environ: Mapping[str, str] | None = field(default=None, hash=False)
    judge: JudgeModel | None = field(default=None, hash=False, compare=False)
    commands_approved: bool = False
