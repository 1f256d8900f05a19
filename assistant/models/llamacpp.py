"""A LangChain chat model over llama-cpp-python, with no langchain-community dependency.

langchain-community (home of ``ChatLlamaCpp``) is being sunset, so the local
model gets this small, maintained-by-us adapter instead: the standard
``BaseChatModel`` interface (invoke, stream, batch, callbacks) on top of
``llama_cpp.Llama.create_chat_completion``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


class LlamaCppChatModel(BaseChatModel):
    """A GGUF model run in-process by llama.cpp; loads on first use."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 2048
    n_threads: int = 2
    n_batch: int = 256
    max_tokens: int = 96
    temperature: float = 0.0
    repeat_penalty: float = 1.3
    seed: int = 0
    _llama: Any = PrivateAttr(default=None)
    # llama.cpp contexts are not thread-safe: one generation at a time per model.
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    # Loading may start in a background thread (``preload``) while the question is retrieved.
    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def client(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama

                self._llama = Llama(
                    model_path=self.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_batch=self.n_batch,
                    seed=self.seed,
                    verbose=False,
                )
        return self._llama

    def preload(self) -> None:
        """Start loading the model in a background thread; the first ``stream`` waits for it.

        llama.cpp loads in C with the GIL released, so a cold process overlaps
        the model load with retrieval instead of paying for both in turn.
        """
        if self._llama is None:
            threading.Thread(target=self._load_quietly, name="llama-preload", daemon=True).start()

    def _load_quietly(self) -> None:
        # A failed load is raised again, with its message, by the foreground call
        # that needs the model; a traceback from this thread would only be noise.
        with contextlib.suppress(Exception):
            _ = self.client

    def _payload(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "repeat_penalty": self.repeat_penalty,
            "stop": stop or [],
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            out = self.client.create_chat_completion(**self._payload(messages, stop))
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            for part in self.client.create_chat_completion(stream=True, **self._payload(messages, stop)):
                text = part["choices"][0].get("delta", {}).get("content") or ""
                if not text:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
