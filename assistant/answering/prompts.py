"""Write stage: prompt templates stored as files in ``prompts/``, with strict variables.

Prompts are edited and reviewed as text, not as Python strings; a template
and its caller that disagree on a variable fail loudly instead of sending
the model a prompt with a hole in it.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from assistant.errors import ConfigError

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


@lru_cache(maxsize=64)
def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"Prompt file {path} is missing; restore it from the repository or set "
            "ASSISTANT_PROMPTS_DIR to a folder that has it."
        ) from None


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render_prompt(name: str, prompts_dir: Path | None = None, **variables: str) -> str:
    """Fill ``prompts/<name>.txt``; every placeholder must be given, and nothing else.

    Raises:
        ConfigError: naming the missing or unexpected variables.
    """
    path = (prompts_dir or DEFAULT_PROMPTS_DIR) / f"{name}.txt"
    template = _read(path)
    fields = template_fields(template)
    missing = fields - variables.keys()
    extra = variables.keys() - fields
    if missing or extra:
        raise ConfigError(
            f"Prompt {path}: missing variables {sorted(missing)}, unexpected {sorted(extra)}; "
            "the template and the code must name the same variables."
        )
    return template.format(**variables)
