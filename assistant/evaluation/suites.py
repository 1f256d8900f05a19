"""Eval suites: a gold file over its own corpus, named so reports can show each in its own columns.

One corpus is not enough to choose a threshold or claim a number: the seeds'
figures did not hold on material nobody tuned for. ``eval/suites.toml`` lists
the suites ``assistant eval`` runs by default (the seeds and an out-of-domain
corpus); ``--gold``/``--corpus`` still run a single file of the user's own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import InputError

DEFAULT_SUITES_FILE = Path("eval/suites.toml")


@dataclass(frozen=True)
class Suite:
    """A named gold file, the corpus it is asked over, and optional judge labels."""

    name: str
    gold: Path
    corpus: tuple[Path, ...]
    labels: Path | None = None
    about: str = ""
    # False: reported only, never used by ``assistant calibrate`` to choose thresholds.
    calibrate: bool = True
    # How to make the gold file and corpus when they are built locally, not committed.
    build: str = ""


def read_toml(path: str | Path, what: str, fix: str = "") -> dict[str, Any]:
    """A TOML file's tables; a missing or broken file is an ``InputError`` naming it (``what``)."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} does not exist{'; ' + fix if fix else ''}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{what} {str(path)!r} is not valid TOML: {exc}.") from None


def load_suites(path: str | Path = DEFAULT_SUITES_FILE) -> list[Suite]:
    """Read ``[name]`` tables with ``gold``, ``corpus`` (list) and optional ``labels``/``about``/``calibrate``/``build``.

    Raises:
        InputError: naming the file and the suite or field that is wrong.
    """
    path = Path(path)
    data = read_toml(path, "Suites file", "pass --gold and --corpus instead")
    suites = []
    for name, table in data.items():
        if not isinstance(table, dict) or not isinstance(table.get("gold"), str):
            raise InputError(f"{path}: suite [{name}] needs gold = \"path/to/gold.jsonl\".")
        corpus = table.get("corpus")
        if not isinstance(corpus, list) or not corpus or not all(isinstance(c, str) for c in corpus):
            raise InputError(f"{path}: suite [{name}] needs corpus = [\"folder\", ...], got {corpus!r}.")
        labels = table.get("labels")
        calibrate = table.get("calibrate", True)
        if not isinstance(calibrate, bool):
            raise InputError(f"{path}: suite [{name}] has calibrate = {calibrate!r}; use true or false.")
        suites.append(Suite(name, Path(table["gold"]), tuple(Path(c) for c in corpus),
                            Path(labels) if isinstance(labels, str) else None, str(table.get("about", "")),
                            calibrate, str(table.get("build", ""))))
    if not suites:
        raise InputError(f"Suites file {str(path)!r} names no suite; add a [name] table with gold and corpus.")
    return suites


def select_suites(suites: list[Suite], names: tuple[str, ...] | list[str]) -> list[Suite]:
    """The suites named (all when ``names`` is empty), in file order."""
    if not names:
        return suites
    known = {s.name for s in suites}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"--suite {unknown[0]!r} is not one of {', '.join(sorted(known))}.")
    return [s for s in suites if s.name in names]


def choose_suites(gold: str | None, corpus: tuple[str, ...], labels: str | None, suites_file: str | Path,
                  names: tuple[str, ...] | list[str]) -> list[Suite]:
    """``--gold`` (one file of the user's own, over ``--corpus``, default the seeds) or the named suites."""
    if not gold:
        chosen = select_suites(load_suites(suites_file), names)
        for suite in chosen:
            if suite.build and not suite.gold.is_file():
                raise InputError(f"Suite [{suite.name}]: gold file {str(suite.gold)!r} does not exist; it is built "
                                 f"locally, not committed: {suite.build}")
        return chosen
    if labels and not Path(labels).is_file():
        raise InputError(f"Judge labels file {labels!r} does not exist; pass --labels '' to skip.")
    return [Suite(Path(gold).stem, Path(gold), tuple(Path(c) for c in corpus or ("seeds",)),
                  Path(labels) if labels else None)]
