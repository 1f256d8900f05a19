"""Calls to a server that may be slow, down or flaky: timeouts, bounded retries, clear errors.

Two kinds of server sit behind the network: the chat model (``openai``,
``ollama``) and the Chroma server. Both need the same policy, so it lives
here once: every HTTP request gets a timeout (``http_timeout``), what is
transient is retried a bounded number of times with exponential backoff
(``RetryPolicy``), and what still fails becomes a ``BackendError`` that names
the endpoint and the fix. What counts as transient differs (each caller
passes its own classifier): a chat reply can be malformed or empty, a Chroma
call only disconnects or times out.

``ResilientChatModel`` wraps a LangChain chat model in that policy. An empty
completion is retried too, then returned empty: the answering chain treats an
answer with no supported sentence as "quote the evidence", so a mute model
degrades to the extractive answer instead of an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from assistant.errors import BackendError

log = logging.getLogger(__name__)

# Refused connections fail at once; a black-holed host should not cost the whole read timeout.
CONNECT_TIMEOUT_S = 5.0
T = TypeVar("T")


def http_timeout(seconds: float) -> Any:
    """An ``httpx.Timeout`` of ``seconds`` per read, connecting within at most 5 s.

    Client libraries default to no timeout (chromadb) or ten minutes (openai),
    so a stalled server would hang a question; the read timeout also applies
    between streamed chunks, so a server that stops mid-answer is noticed.
    """
    import httpx

    return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_S, seconds))


@dataclass(frozen=True)
class Failure:
    """What went wrong with one call, and whether trying again can help."""

    kind: str
    detail: str
    retry: bool


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff (``backoff_s``, then x2 each time).

    ``label`` names the server in the log ("Chroma call", "openai at http://...").
    """

    retries: int
    backoff_s: float
    label: str

    def pause(self, failure: Failure, attempt: int) -> None:
        """Log the failure of attempt ``attempt`` (0-based) and sleep before the next."""
        delay = self.backoff_s * (2**attempt)
        log.warning("%s: %s; retry %d/%d in %.1fs", self.label, failure.detail, attempt + 1, self.retries, delay)
        time.sleep(delay)

    def call(
        self,
        fn: Callable[[], T],
        classify: Callable[[Exception], Failure],
        give_up: Callable[[Exception, Failure, int], BaseException | None],
        passthrough: tuple[type[BaseException], ...] = (BackendError,),
    ) -> T:
        """Run ``fn``, retrying what ``classify`` calls retryable.

        Args:
            fn: the call; run up to ``retries + 1`` times.
            classify: sorts an exception into a ``Failure``.
            give_up: the exception to raise once retrying ends (given the last
                exception, its failure and the number of attempts), or None to
                re-raise the original exception.
            passthrough: exceptions raised at once, never retried (our own errors).

        Returns:
            What ``fn`` returned.
        """
        attempt = 0
        while True:
            try:
                return fn()
            except passthrough:
                raise
            except Exception as exc:
                failure = classify(exc)
                if not failure.retry or attempt >= self.retries:
                    error = give_up(exc, failure, attempt + 1)
                    if error is None:
                        raise
                    raise error from None
                self.pause(failure, attempt)
                attempt += 1


class EmptyCompletion(Exception):
    """The server answered 200 with no text at all."""


class MalformedCompletion(Exception):
    """The server answered 200 with something that is not a completion."""


def classify_failure(exc: BaseException) -> Failure:
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
        return Failure("empty", "the server returned an empty completion", True)
    if isinstance(exc, MalformedCompletion):
        return Failure("malformed", "malformed response: no completion in the reply "
                        "(is the URL an OpenAI-compatible API?)", True)
    if names & {"APITimeoutError", "TimeoutException", "TimeoutError", "ReadTimeout", "ConnectTimeout"}:
        return Failure("timeout", "the request timed out", True)
    if names & {"APIConnectionError", "ConnectError", "ConnectionError", "RemoteProtocolError",
                "ReadError", "NetworkError", "TransportError"}:
        return Failure("connect", f"could not connect or the connection dropped ({detail})", True)
    if isinstance(status, int):
        if status == 404:
            return Failure("not_found", f"HTTP 404 ({detail})", False)
        if status in (401, 403):
            return Failure("auth", f"HTTP {status}: the server rejected the API key", False)
        if status in (408, 409, 425, 429) or status >= 500:
            return Failure("server", f"HTTP {status} ({detail})", True)
        if status == 400 and "model" in str(exc).lower() and "not" in str(exc).lower():
            return Failure("not_found", f"HTTP 400 ({detail})", False)
        return Failure("rejected", f"HTTP {status} ({detail})", False)
    if names & {"APIResponseValidationError", "JSONDecodeError", "KeyError", "TypeError",
                "ValueError", "AttributeError", "IndexError", "ValidationError"}:
        return Failure("malformed", f"malformed response ({detail})", True)
    return Failure("other", detail, False)


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
                self._policy().pause(failure, attempt)
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

    def _policy(self) -> RetryPolicy:
        return RetryPolicy(self.retries, self.backoff_s, f"{self.backend} at {self.endpoint}")

    def _with_retries(self, fn: Callable[[], ChatResult]) -> ChatResult:
        # An empty completion ends as itself (the caller returns empty text); the rest as a BackendError.
        return self._policy().call(
            fn,
            classify_failure,
            lambda _exc, failure, attempts: None if failure.kind == "empty" else self._error(failure, attempts),
        )

    def _error(self, failure: Failure, attempts: int, midstream: bool = False) -> BackendError:
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
    "Failure",
    "ResilientChatModel",
    "RetryPolicy",
    "classify_failure",
    "http_timeout",
]
