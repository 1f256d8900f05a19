"""``Assistant``: the one object every surface (API, CLI, UI, eval) calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.answer import Answer, final_answer
from assistant.answering.chain import AnswerChain
from assistant.answering.retrieval import HybridRetriever
from assistant.answering.verification import SupportJudge
from assistant.conversations.records import LOCAL_OWNER
from assistant.errors import IndexStateError
from assistant.ingest.pipeline import IngestPipeline, IngestReport, ProgressCallback
from assistant.models.embeddings import get_embeddings, get_index_embeddings
from assistant.settings import DEFAULT_COLLECTION, Settings, load_settings
from assistant.store.collections import SHAPING, Collections
from assistant.store.index import Index
from assistant.text import antonyms, language, places, related_words

if TYPE_CHECKING:
    from assistant.conversations.store import ConversationStore

#: The settings that shape an answer, saved with each conversation turn.
ANSWER_SETTINGS = (
    "llm", "k", "retrieval", "chunk_tokens", "chunk_overlap", "embedding_backend",
    "abstain_threshold", "abstain_match_threshold", "abstain_unmatched_match_threshold", "evidence_sentences", "llm_writer", "collection",
)


class Assistant:
    """Question answering over an indexed folder of documents.

    Construction is cheap: the embedding model, the vector store and the chat
    model load on first use (or in ``warm_up``). Dependencies can be injected
    so tests run with fakes.

    Example:
        >>> assistant = Assistant()
        >>> assistant.ingest(["seeds/"])
        >>> assistant.ask("How is China enforcing its rare earth export restrictions?").text
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embeddings: Any = None,
        index_embeddings: Any = None,
        chat_model: Any = None,
        chroma_client: Any = None,
        **overrides: Any,
    ) -> None:
        self._collections: Collections | None = None
        if settings is not None:
            self.settings = settings.model_copy(update=overrides)
        else:
            self.settings = load_settings(**overrides)
            if self.settings.collection != DEFAULT_COLLECTION:
                # A named collection's index keeps the settings it was built with (its record),
                # whatever the environment says; an explicit argument still wins.
                self._collections = Collections(self.settings, chroma_client if self.settings.chroma_url else None)
                kept = self._collections.settings_for(self.settings.collection)
                self.settings = self.settings.model_copy(
                    update={k: getattr(kept, k) for k in SHAPING if k not in overrides}
                )
        self._chroma_client = chroma_client
        self._parent: Assistant | None = None
        self._children: dict[str, Assistant] = {}
        self._collection_checked = False
        # Two roles: ``embeddings`` ranks sentences and feeds the support judge (their
        # thresholds were chosen on its scores); ``index_embeddings`` encodes the chunk
        # index for dense retrieval. The same encoder unless ASSISTANT_INDEX_EMBEDDING_BACKEND says otherwise.
        self.embeddings = embeddings or get_embeddings(self.settings)
        # An injected encoder (a test's fake) serves both roles unless the index's is injected too.
        self.index_embeddings = index_embeddings or (embeddings if embeddings is not None else self._index_encoder())
        self._chat_model = chat_model
        self._chat_model_loaded = chat_model is not None
        self.index = Index(self.settings, self.index_embeddings, client=chroma_client)
        self._lock = threading.Lock()
        self._other_models: dict[str, Any] = {}
        self._conversations: ConversationStore | None = None

    def _index_encoder(self) -> Any:
        # ASSISTANT_EMBEDDINGS_URL moves this role (only) to an embeddings server.
        if not self.settings.embeddings_url and self.settings.index_backend == self.settings.embedding_backend:
            return self.embeddings
        return get_index_embeddings(self.settings)

    # ----- lazily built parts ---------------------------------------------------
    @property
    def chat_model(self) -> Any:
        if self._parent is not None:
            return self._parent.chat_model
        if not self._chat_model_loaded:
            with self._lock:
                if not self._chat_model_loaded:
                    from assistant.models.chat import get_chat_model

                    self._chat_model = get_chat_model(self.settings)
                    self._chat_model_loaded = True
        return self._chat_model

    @property
    def collections(self) -> Collections:
        """The collections of this index folder (or Chroma server): list, create, rename, delete.

        Example:
            >>> assistant.collections.create("contracts")
            >>> assistant.for_collection("contracts").ingest(["~/contracts"])
        """
        if self._collections is None:
            shared = self._chroma_client if self.settings.chroma_url else None
            self._collections = Collections(self.settings, shared)
        return self._collections

    def for_collection(self, name: str | None) -> Assistant:
        """The assistant of collection ``name`` (None or this one's: self), sharing encoders,
        chat model and saved conversations, built once and kept.

        Raises:
            InputError: the name is invalid.  NotFoundError: no such collection.
        """
        if not name or name == self.settings.collection:
            return self
        root = self._parent or self
        if name == root.settings.collection:
            return root
        with root._lock:
            child = root._children.get(name)
        if child is not None:
            return child
        record = root.collections.require(name)  # raises, naming it, when it does not exist
        settings = root.collections.settings_for(name, record)
        same_encoder = settings.index_backend == root.settings.index_backend
        child = Assistant(
            settings,
            embeddings=root.embeddings,
            index_embeddings=root.index_embeddings if same_encoder else None,
            chroma_client=root._chroma_client if settings.chroma_url else None,
        )
        child._parent = root
        with root._lock:
            return root._children.setdefault(name, child)

    def forget_collection(self, name: str) -> None:
        """Drop a kept collection assistant (after the collection was deleted or renamed)."""
        root = self._parent or self
        with root._lock:
            root._children.pop(name, None)

    @property
    def conversations(self) -> ConversationStore:
        """Saved conversations and feedback (SQLite in ASSISTANT_DATA_DIR, or ASSISTANT_DATABASE_URL).

        Example:
            >>> chat = assistant.conversations.create()
            >>> assistant.ask("Who controls rare earth processing?", conversation_id=chat.id)
        """
        if self._parent is not None:
            return self._parent.conversations
        if self._conversations is None:
            # Imported here: SQLAlchemy costs a cold question that saves nothing half a second.
            from assistant.conversations.store import ConversationStore

            with self._lock:
                if self._conversations is None:
                    self._conversations = ConversationStore(
                        self.settings.conversations_url, max_feedback_chars=self.settings.max_feedback_chars
                    )
        return self._conversations

    def as_retriever(self, k: int | None = None, mode: str | None = None) -> HybridRetriever:
        """Our hybrid retriever as a LangChain ``BaseRetriever``."""
        return HybridRetriever(
            index=self.index,
            embeddings=self.index_embeddings,
            k=k or self.settings.k,
            mode=mode or self.settings.retrieval,
        )

    def chat_model_for(self, generator: str | None) -> Any:
        """The chat model of ``generator`` (None = the configured one), built once and kept."""
        if self._parent is not None:
            return self._parent.chat_model_for(generator)
        if not generator or generator == self.settings.llm:
            return self.chat_model
        if generator == "extractive":
            return None
        with self._lock:
            if generator not in self._other_models:
                from assistant.models.chat import get_chat_model

                self._other_models[generator] = get_chat_model(self.settings.model_copy(update={"llm": generator}))
            return self._other_models[generator]

    def _chain(self, generator: str | None = None) -> AnswerChain:
        settings = self.settings
        if generator and generator != settings.llm:
            settings = settings.model_copy(update={"llm": generator})
        return AnswerChain(
            settings,
            self.as_retriever(),
            self.embeddings,
            self.chat_model_for(generator),
            self.index,
            SupportJudge(self.embeddings),
            matcher=self.index_embeddings,
        )

    # ----- public API -----------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], progress: ProgressCallback | None = None) -> IngestReport:
        """Index files and folders; unchanged documents are skipped."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = list(paths)
        name = self.settings.collection
        if name != DEFAULT_COLLECTION:
            # Writing documents into a collection creates it, with the settings this ingest uses.
            self.collections.ensure(name, **{k: getattr(self.settings, k) for k in SHAPING})
        report = IngestPipeline(self.index).run(paths, progress=progress)
        self.collections.record_sync(name, [str(p) for p in paths], self.settings)
        return report

    def delete_document(self, doc_id: str) -> None:
        """Remove one document (its chunks and kept text) from this collection's index.

        Raises:
            NotFoundError: no document has this id.
        """
        from assistant.ingest.maintenance import delete_documents

        self._require_collection()
        delete_documents(self.index, [doc_id])

    def reindex_document(self, doc_id: str) -> IngestReport:
        """Parse, chunk and index one document's file again (unchanged chunks keep their vectors).

        Raises:
            NotFoundError: no document has this id.  InputError: its file is gone.
        """
        from assistant.ingest.maintenance import source_path_for_reindex

        self._require_collection()
        path = source_path_for_reindex(self.index, doc_id)
        return IngestPipeline(self.index).run([path])

    def ask(
        self,
        question: str,
        k: int | None = None,
        history: list | None = None,
        generator: str | None = None,
        conversation_id: str | None = None,
        owner: str = LOCAL_OWNER,
    ) -> Answer:
        """Answer ``question`` with citations; ``answer.abstained`` when the documents lack it.

        Args:
            generator: override ``settings.llm`` for this question ("extractive", "llamacpp", ...).
            conversation_id: a saved conversation: its turns are the history, and the answer
                is saved as its next turn (``answer.metadata["turn_id"]``).
            owner: whose conversation it is (surfaces pass the caller; the Python API is "local").
        """
        return final_answer(self.stream(
            question, k=k, history=history, generator=generator, conversation_id=conversation_id, owner=owner
        ))

    def stream(
        self,
        question: str,
        k: int | None = None,
        history: list | None = None,
        generator: str | None = None,
        conversation_id: str | None = None,
        owner: str = LOCAL_OWNER,
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the final ``Answer`` (saved when in a conversation)."""
        self._require_index()
        if conversation_id is not None:
            # The saved turns, not the caller's, so a follow-up reads right after a restart too.
            history = self.conversations.get(conversation_id, owner).history()
        chain = self._chain(generator)
        preload = getattr(chain.chat_model, "preload", None)
        if preload is not None:
            preload()  # a local model loads while the question is retrieved
        language.preload()  # so does spaCy, which the decide and write stages read with
        for event in chain.stream(question, k=k, history=history):
            if isinstance(event, Answer):
                event.metadata["collection"] = self.settings.collection  # whose documents the citations name
                if conversation_id is not None:
                    self._save_turn(conversation_id, owner, question, event, generator)
            yield event

    def _save_turn(self, conversation_id: str, owner: str, question: str, answer: Answer, generator: str | None) -> None:
        started = time.perf_counter()
        public = self.settings.public_dict()
        shaping = {name: public[name] for name in ANSWER_SETTINGS}
        shaping["llm"] = generator or self.settings.llm
        turn = self.conversations.add_turn(conversation_id, question, answer.to_dict(), owner, settings=shaping)
        answer.metadata["conversation_id"] = conversation_id
        answer.metadata["turn_id"] = turn.id
        answer.timings["save_s"] = round(time.perf_counter() - started, 4)

    def search(self, query: str, k: int | None = None) -> list[dict[str, Any]]:
        """Retrieved chunks with their sources and scores (for tools and MCP)."""
        self._require_index()
        docs = self.as_retriever(k=k).invoke(query)
        return [{"text": d.page_content, **d.metadata} for d in docs]

    def documents(self) -> list[dict[str, Any]]:
        """Indexed documents: id, title, path, sections, dates, suggested questions."""
        self._require_collection()
        manifest = self.index.manifest()
        return [
            {
                "id": doc_id,
                "title": entry.title,
                "path": entry.path,
                "chunks": len(entry.chunk_ids),
                "sections": entry.sections,
                "newest_date": entry.metadata.get("newest_date"),
                "suggested_questions": entry.metadata.get("suggested_questions", []),
            }
            for doc_id, entry in sorted(manifest.documents.items())
        ]

    def document_text(self, doc_id: str) -> str:
        self._require_collection()
        return self.index.document_text(doc_id)

    def suggested_questions(self) -> list[str]:
        """The corpus's own 'Go deeper' questions, for an empty chat."""
        out: list[str] = []
        for doc in self.documents():
            out.extend(q for q in doc["suggested_questions"] if q not in out)
        return out

    def warm_up(self) -> None:
        """Load the encoder, the index and the chat model now rather than on the first question."""
        self.embeddings.warm_up()
        if self.index_embeddings is not self.embeddings:
            self.index_embeddings.warm_up()
        self.index.manifest()  # manifest + persisted BM25 index
        # Opening Chroma (client, collection, HNSW segment) costs 1-3 s: pay it here,
        # not in the first user's question.
        if not self.index.is_empty():
            self.index.dense_search(self.index_embeddings.embed_query("warm up"), 1)
        language.warm_up()
        antonyms.antonyms("warm")  # WordNet's antonym table (built once per machine, then read)
        related_words.related("warm")  # and its synonyms and derivational forms, likewise
        places.containing_places("Beijing")  # and which places are part of which
        model = self.chat_model
        if model is not None and self.settings.llm == "llamacpp":
            model.invoke("Hi")

    def _require_collection(self) -> None:
        if not self._collection_checked and self.settings.collection != DEFAULT_COLLECTION:
            self.collections.require(self.settings.collection)  # raises, naming it
            self._collection_checked = True

    def _require_index(self) -> None:
        self._require_collection()
        if self.index.is_empty():
            raise IndexStateError(
                f"The index in {self.settings.collection_dir} is empty; run `assistant ingest seeds/` "
                "(or your own folder) first."
            )
        built_with = self.index.manifest().embedding_model
        if built_with != self.index_embeddings.model_name:
            # Both encoders give 384 numbers: searching one's vectors with the other's would
            # return confident nonsense, not an error.
            if self.settings.embeddings_url:
                back = (f"or point ASSISTANT_EMBEDDINGS_URL / ASSISTANT_EMBEDDINGS_MODEL (now "
                        f"{self.settings.embeddings_url}) back at the encoder it was built with")
            else:
                back = "or set ASSISTANT_INDEX_EMBEDDING_BACKEND / ASSISTANT_EMBEDDINGS_URL back"
            raise IndexStateError(
                f"The index in {self.settings.collection_dir} was built with the encoder {built_with!r}, but "
                f"questions would be encoded with {self.index_embeddings.model_name!r}; run `assistant ingest` "
                f"on your folders to rebuild it with this encoder ({back})."
            )
