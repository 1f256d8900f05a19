"""The eval harness: run the real ``Assistant`` on a gold file and score every answer.

One call, :func:`run_eval`, takes a gold file, a corpus and one or more
configurations (settings overrides), builds a private index per configuration
(keyed by the settings that change the index, so chunk sizes can be compared
without touching the project's ``indexes/``), asks every gold question, and
returns a JSON-ready dict ``{"config", "metrics", "items", "runs",
"judge_agreement"}``. Scoring lives in ``eval_metrics``; the Markdown report
and plots in ``eval_report``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answering.chain import CONFLICT_NOTE_PREFIX
from assistant.answering.retrieval import STORY_CHUNKS
from assistant.errors import AssistantError, InputError
from assistant.evaluation import metrics as M
from assistant.evaluation.splits import SPLITS, in_split, split_of
from assistant.evaluation.suites import read_toml
from assistant.text.language import read
from assistant.text.sentences import is_bare_quotation

GOLD_FIELDS = {"id", "question", "answerable", "facts", "sources", "answer"}
# A reference answer this short is a span to find in the answer (SQuAD's are 1-5 words); a longer
# one is prose, which fact recall cannot look for word for word (answer cosine and token F1 read it).
SHORT_ANSWER_WORDS = 8
INDEX_FIELDS = ("chunk_tokens", "chunk_overlap", "embedding_model_path", "embedding_backend", "index_embedding_backend")
SHOWN_SETTINGS = ("llm", "retrieval", "k", "chunk_tokens", "chunk_overlap", "abstain_threshold", "abstain_match_threshold",
                  "abstain_unmatched_match_threshold", "evidence_sentences")


@dataclass(frozen=True)
class EvalStep:
    """One answered gold question, for progress bars (no string to parse back)."""

    config: str
    n: int
    total: int
    item_id: str
    latency_s: float
    facts_hit: int
    n_facts: int
    abstained: bool

    def __str__(self) -> str:
        return (f"[{self.config}] {self.n}/{self.total} {self.item_id} {self.latency_s:.2f}s "
                f"facts {self.facts_hit}/{self.n_facts}{' abstained' if self.abstained else ''}")


#: Called with an ``EvalStep`` per question and a plain message for anything else.
Progress = Callable[[EvalStep | str], None]


# ----- gold file ---------------------------------------------------------------------
@dataclass
class GoldItem:
    """One gold question; ``facts`` is a list of required facts, each a list of spellings."""

    id: str
    question: str
    answerable: bool
    facts: list[list[str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    answer: str | None = None

    @property
    def category(self) -> str:
        """The id's prefix before '-' or '_' ("story-03" -> "story"), for grouped scores."""
        for sep in ("-", "_"):
            if sep in self.id:
                return self.id.split(sep, 1)[0]
        return "all"


def load_gold(path: str | Path) -> list[GoldItem]:
    """Read and validate a gold JSONL file.

    Raises:
        InputError: naming the file, the line number and the field that is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Gold file {str(path)!r} does not exist; pass --gold path/to/gold.jsonl.")
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); one JSON object per line.") from None
        if not isinstance(raw, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(raw).__name__}.")
        item = _gold_item(raw, where, default_id=f"{path.stem}-{n:03d}")
        if item.id in seen:
            raise InputError(f"{where}: field 'id' value {item.id!r} repeats line {seen[item.id]}; ids must be unique.")
        seen[item.id] = n
        items.append(item)
    if not items:
        raise InputError(f"Gold file {str(path)!r} has no items; write one JSON object per line.")
    return items


def _gold_item(raw: dict, where: str, default_id: str) -> GoldItem:
    """One validated gold item. Only ``question`` is required of a file written elsewhere:

    the id defaults to ``default_id`` (the file's name and line); ``answerable`` to true when a
    reference ``answer`` or ``facts`` is given; and a short reference answer (a SQuAD-style span
    of at most ``SHORT_ANSWER_WORDS`` words) is the one fact, so fact recall is measured too.
    """
    unknown = sorted(set(raw) - GOLD_FIELDS)
    if unknown:
        raise InputError(f"{where}: unknown field {unknown[0]!r}; allowed fields are {', '.join(sorted(GOLD_FIELDS))}.")
    raw = dict(raw)
    raw.setdefault("id", default_id)
    if "answerable" not in raw and (raw.get("answer") or raw.get("facts")):
        raw["answerable"] = True
    if "question" not in raw:
        raise InputError(f"{where}: missing field 'question'.")
    if "answerable" not in raw:
        raise InputError(f"{where}: missing field 'answerable' (true or false; it defaults to true only "
                         "when an 'answer' or 'facts' is given).")
    for name in ("id", "question"):
        if not isinstance(raw[name], str) or not raw[name].strip():
            raise InputError(f"{where}: field {name!r} must be a non-empty string, got {raw[name]!r}.")
    if not isinstance(raw["answerable"], bool):
        raise InputError(f"{where}: field 'answerable' must be true or false, got {raw['answerable']!r}.")
    facts = raw.get("facts", [])
    short_answer = isinstance(raw.get("answer"), str) and 0 < len(raw["answer"].split()) <= SHORT_ANSWER_WORDS
    if "facts" not in raw and raw["answerable"] and short_answer:
        facts = [[raw["answer"].strip()]]
    if not isinstance(facts, list) or not all(
        isinstance(f, list) and f and all(isinstance(s, str) and s.strip() for s in f) for f in facts
    ):
        raise InputError(
            f"{where}: field 'facts' must be a list of facts, each a non-empty list of spellings "
            f'(e.g. [["60.3"], ["7,742", "7742"]]), got {facts!r}.'
        )
    if facts and not raw["answerable"]:
        raise InputError(f"{where}: field 'facts' must be empty when 'answerable' is false.")
    sources = raw.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise InputError(f"{where}: field 'sources' must be a list of document ids, got {sources!r}.")
    answer = raw.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise InputError(f"{where}: field 'answer' must be a string, got {answer!r}.")
    return GoldItem(raw["id"], raw["question"], raw["answerable"], facts, sources, answer or None)


# ----- configurations ----------------------------------------------------------------
@dataclass
class EvalConfig:
    """A named set of settings overrides, e.g. ``EvalConfig("dense", {"retrieval": "dense"})``."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)


def parse_overrides(pairs: Sequence[str], where: str = "--set") -> dict[str, str]:
    """``["k=4", "llm=extractive"]`` (or ``"k=4,llm=extractive"`` items) -> a dict of settings."""
    from assistant.settings import Settings

    out: dict[str, str] = {}
    for pair in (p for chunk in pairs for p in chunk.split(",") if p.strip()):
        key, sep, value = pair.partition("=")
        key = key.strip().lower().removeprefix("assistant_")
        if not sep or not key:
            raise InputError(f"{where} {pair!r} is not key=value; e.g. {where} k=4.")
        if key not in Settings.model_fields:
            raise InputError(f"{where} {pair!r}: {key!r} is not a setting; see `assistant config`.")
        if key == "index_dir":
            raise InputError(f"{where} {pair!r}: the eval builds its own index per configuration; use --corpus.")
        out[key] = value.strip()
    return out


def parse_compare(spec: str) -> EvalConfig:
    """``"dense=retrieval=dense,k=4"`` -> ``EvalConfig("dense", {"retrieval": "dense", "k": "4"})``."""
    name, sep, rest = spec.partition("=")
    if not sep or not name.strip() or "=" not in rest:
        raise InputError(f"--compare {spec!r} is not NAME=key=value[,key=value]; e.g. --compare dense=retrieval=dense.")
    return EvalConfig(name.strip(), parse_overrides([rest], where="--compare"))


# ----- running -----------------------------------------------------------------------
def run_eval(
    gold: str | Path | list[GoldItem],
    configs: Sequence[EvalConfig] | None = None,
    *,
    corpus: Sequence[str | Path] = ("seeds",),
    cache_dir: str | Path | None = None,
    labels: str | Path | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
    embeddings: Any = None,
    llm_threads: int | None = None,
    split: str = "all",
    typed: str = "as-written",
) -> dict[str, Any]:
    """Evaluate every configuration on the gold items; the first one is the headline.

    ``split`` ``"dev"`` runs only the part one tunes on, so a tuning loop never
    prints the sealed test numbers; ``"test"`` only those; ``"all"`` both, side by side.

    ``typed`` ``"lowercase"`` asks every question as people often type it: lower case,
    no question mark (``as_typed``); the gold answers stay the same.

    ``llm_threads`` sets ``Settings.llm_threads`` (the local llama.cpp model's CPU threads).
    It changes speed, not answers; on a busy machine one thread is several
    times faster than two that wait on each other.

    Returns:
        ``{"config", "metrics", "items"}`` of the first configuration, plus
        ``"runs"`` (every configuration, same shape and a ``name``) and
        ``"judge_agreement"`` (when ``labels`` is given).
    """
    items = gold if isinstance(gold, list) else load_gold(gold)
    items = in_split(items, split)
    items = items[:limit] if limit else items
    items = as_typed(items, typed)
    configs = list(configs or [EvalConfig("default")])
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise InputError(f"Configuration names must be unique, got {names}; rename a --compare entry.")
    corpus_paths = [Path(p) for p in corpus]
    for p in corpus_paths:
        if not p.exists():
            raise InputError(f"Corpus path {str(p)!r} does not exist; pass --corpus path/to/folder.")
    cache = Path(cache_dir) if cache_dir else Path("eval/.cache")
    say = progress or (lambda _msg: None)
    # Injected embeddings serve every configuration; otherwise each gets the encoder its
    # settings name (--compare x=embedding_backend=e5), and the scoring judge stays MiniLM.
    encoders: dict[Any, Any] | None = None
    if embeddings is None:
        from assistant.models.embeddings import MiniLMEmbeddings

        embeddings = MiniLMEmbeddings()
        encoders = {("onnx", None): embeddings}
    label_pairs = load_labels(labels) if labels else None  # fail fast on a bad labels file
    chat_models: dict[str, Any] = {}
    runs = []
    for config in configs:
        runs.append(_run_config(config, items, corpus_paths, cache, embeddings, chat_models, say, llm_threads,
                                encoders, parts=_parts(split)))
    result: dict[str, Any] = {
        "config": runs[0]["config"],
        "metrics": runs[0]["metrics"],
        "items": runs[0]["items"],
        "runs": runs,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gold": {"path": str(gold) if not isinstance(gold, list) else None, "n_items": len(items)},
        "corpus": [str(p) for p in corpus_paths],
    }
    if label_pairs is not None:
        label_pairs = in_split(label_pairs, split, id_of=lambda p: str(p.get("id", "")))
        result["judge_agreement"] = judge_agreement(label_pairs, embeddings)
        result["judge_agreement_by_split"] = {
            part: judge_agreement([p for p in label_pairs if split_of(str(p.get("id", ""))) == part], embeddings)
            for part in _parts(split)
        }
    result["split"] = split
    result["typed"] = typed
    return result


TYPED = ("as-written", "lowercase")


def as_typed(items: list[GoldItem], typed: str) -> list[GoldItem]:
    """The gold items with their questions as ``typed``: as written, or lower case without "?"."""
    if typed not in TYPED:
        raise InputError(f"typed must be one of {', '.join(TYPED)}, got {typed!r}.")
    if typed == "as-written":
        return items
    return [replace(item, question=item.question.lower().rstrip(" ?")) for item in items]


def run_suites(
    suites: Sequence[Any],
    configs: Sequence[EvalConfig],
    *,
    thresholds: str | Path | None = None,
    cache_dir: str | Path | None = None,
    **options: Any,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``run_eval`` per suite (each over its own corpus), and the threshold failures of all.

    Returns:
        ``({suite name: result}, ["suite: failure", ...])``; each result also
        carries ``"suite"``, its own ``"threshold_failures"`` and the users'
        ratings so far, ``"feedback"`` (``feedback_counts``).
    """
    results: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    for n, suite in enumerate(suites):
        result = run_eval(suite.gold, configs, corpus=list(suite.corpus), labels=suite.labels,
                          cache_dir=cache_dir or suite.gold.parent / ".cache", **options)
        result["gold"]["path"] = str(suite.gold)
        result["suite"] = suite.name
        bounds = thresholds_for(thresholds, suite.name, first=n == 0) if thresholds else None
        result["threshold_failures"] = check_thresholds(gate_metrics(result), bounds) if bounds else []
        failures += [f"{suite.name}: {f}" for f in result["threshold_failures"]]
        results[suite.name] = result
    counts = feedback_counts()
    for result in results.values():
        result["feedback"] = counts
    return results, failures


def feedback_counts(settings: Any = None) -> dict[str, Any]:
    """The users' ratings so far (as ``assistant feedback`` counts them), for the report.

    Reads the configured conversations database (ASSISTANT_DATA_DIR or
    ASSISTANT_DATABASE_URL) only when there is one: an eval never creates it,
    and a database it cannot read gives zeros with the reason, not a failed run.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from assistant.conversations.store import ConversationStore
    from assistant.settings import load_settings

    store = ConversationStore((settings or load_settings()).conversations_url)
    counts: dict[str, Any] = {"up": 0, "down": 0, "down_with_correction": 0, "weeks": {}}
    if not store.exists():
        return counts
    try:
        return store.feedback_counts()
    except (AssistantError, SQLAlchemyError) as exc:
        return {**counts, "error": f"feedback not read: {str(exc).splitlines()[0][:200]}"}
    finally:
        store.close()


def _index_dir(cache: Path, settings: Any, corpus: list[Path]) -> Path:
    key = json.dumps(
        {"corpus": [str(p.resolve()) for p in corpus], **{f: str(getattr(settings, f)) for f in INDEX_FIELDS}},
        sort_keys=True,
    )
    return cache / f"index-{settings.chunk_tokens}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def _parts(split: str) -> tuple[str, ...]:
    """The parts a run over ``split`` reports ("all": dev and test side by side)."""
    return SPLITS if split == "all" else (split,)


def _run_config(config, items, corpus, cache, embeddings, chat_models, say, llm_threads=None, encoders=None,
                parts: tuple[str, ...] = SPLITS) -> dict[str, Any]:
    from assistant.answering.verification import SupportJudge
    from assistant.assistant import Assistant
    from assistant.settings import load_settings

    overrides = dict(config.overrides)
    if llm_threads is not None:
        overrides.setdefault("llm_threads", llm_threads)
    settings = load_settings(**overrides)
    settings = settings.model_copy(update={"index_dir": _index_dir(cache, settings, corpus)})
    encoder = index_encoder = embeddings
    if encoders is not None:
        from assistant.models.embeddings import get_embeddings

        def encoder_for(backend: str) -> Any:
            key = (backend, settings.embedding_model_path)
            if key not in encoders:
                encoders[key] = get_embeddings(settings.model_copy(update={"embedding_backend": backend}))
            return encoders[key]

        encoder = encoder_for(settings.embedding_backend)
        index_encoder = encoder_for(settings.index_backend)
    assistant = Assistant(settings, embeddings=encoder, index_embeddings=index_encoder,
                          chat_model=chat_models.get(settings.llm))
    t0 = time.perf_counter()
    report = assistant.ingest(corpus)
    if report.errors:
        say(f"[{config.name}] refused: " + "; ".join(f"{e['path']}: {e['reason']}" for e in report.errors))
    say(f"[{config.name}] index {settings.index_dir}: {report.summary()}")
    assistant.warm_up()  # model loading is not answer latency
    chat_models.setdefault(settings.llm, assistant.chat_model)
    judge = SupportJudge(embeddings)
    run_items = []
    for n, item in enumerate(items, start=1):
        scored = score_item(assistant, item, judge)
        run_items.append(scored)
        say(EvalStep(config.name, n, len(items), item.id, scored["latency_s"], len(scored["facts_hit"]),
                     len(item.facts), scored["abstained"]))
    shown = {name: getattr(settings, name) for name in SHOWN_SETTINGS}
    return {
        "name": config.name,
        "config": {"name": config.name, "overrides": dict(config.overrides), "settings": shown,
                   "index_dir": str(settings.index_dir), "llm_threads": getattr(settings, "llm_threads", None)},
        "metrics": aggregate(run_items, items, wall_s=time.perf_counter() - t0),
        # The sealed test part is reported, never tuned on (evaluation/splits.py).
        "splits": {part: aggregate([r for r in run_items if r["split"] == part], items) for part in parts},
        "items": run_items,
    }


def score_item(assistant: Any, item: GoldItem, judge: Any) -> dict[str, Any]:
    """Ask one gold question and score the answer (see ``eval_metrics`` for each measure)."""
    k = assistant.settings.k
    t = time.perf_counter()
    error = None
    try:
        answer = assistant.ask(item.question)
        text, abstained = answer.text, answer.abstained
        citations, retrieved = answer.citations, list(answer.metadata.get("retrieved", []))
        cited = _cited_sentences(answer)
        timings = dict(answer.timings)
        trace = {k: answer.metadata[k] for k in ("generator", "llm_raw", "fallback") if k in answer.metadata}
    except AssistantError as exc:  # one broken item must not sink the run
        error, text, abstained, citations, retrieved, cited = str(exc), "", False, [], [], []
        timings, trace = {}, {}
    latency = time.perf_counter() - t
    ranking = M.doc_ranking(retrieved)
    deep = assistant.as_retriever(k=max(10, k)).search(item.question)[:10]
    # What the answer chain read: its k chunks and the best documents' further chunks.
    read_chunks = assistant.as_retriever(k=k).search(item.question, story_chunks=STORY_CHUNKS)
    context = " ".join(d.page_content for d in read_chunks)
    # A refusal scores no fact, even when the closest sentence it quotes holds one: the user was
    # told the documents do not answer.
    hit, missed = M.fact_hits("" if abstained else M.strip_markers(text), item.facts)
    out: dict[str, Any] = {
        "id": item.id, "split": split_of(item.id), "category": item.category, "question": item.question,
        "answerable": item.answerable, "answer": text, "abstained": abstained, "error": error,
        "facts_hit": hit, "facts_missed": missed,
        "fact_recall": len(hit) / len(item.facts) if item.facts else None,
        "context_fact_recall": M.fact_recall(context, item.facts),
        "token_f1": M.token_f1(text, item.answer) if item.answer else None,
        "words": M.answer_words(text) if text and not abstained else None,
        # A one-fact question is answered when its first sentence says the fact.
        "first_sentence_hit": (not abstained and M.first_sentence_holds(text, item.facts)) if len(item.facts) == 1 else None,
        # A broad question's answer should be its facts, not sentences that only share the topic.
        "fact_sentence_share": None if abstained or not text else M.fact_sentence_share(text, item.facts),
        # A sentence pointing back ("it", "this dynamic"), or quoting no one, must follow what it leans on.
        "dangling_reference_share": None if abstained else M.dangling_reference_share(cited, _leans),
        "answer_cosine": None,
        "gold_sources": item.sources, "retrieved_docs": ranking,
        "recall_at_k": M.recall_at_k(ranking, item.sources),
        "reciprocal_rank": M.reciprocal_rank(ranking, item.sources),
        "ndcg_at_10": M.ndcg_at(M.doc_ranking(d.metadata["id"] for d in deep), item.sources, 10),
        "citations": [{"id": c.id, "source": c.source, "section": c.section, "snippet": c.snippet} for c in citations],
        "latency_s": round(latency, 4),
        "timings": timings,
        "trace": trace,
    }
    if item.answer:
        vecs = assistant.embeddings.embed_documents([M.strip_markers(text) or " ", item.answer])
        out["answer_cosine"] = M.cosine(vecs[0], vecs[1])
    out.update(_citation_part(text, abstained, citations, item, judge))
    return out


def _leans(sentence: str) -> bool:
    """Whether ``sentence`` leans on what came before it: a bare quotation, or a main-clause
    subject that points back, read from the full parse (answering skips the parse for sentences
    with no pointing word near their start or end; the measure does not)."""
    return is_bare_quotation(sentence) or read(sentence).points_back


def _cited_sentences(answer: Any) -> list[tuple[str, str, int, int]]:
    """Each cited sentence of ``answer`` as (text, source, start, end) of the first span it cites."""
    spans = {c.id: (c.source, c.start, c.end) for c in answer.citations}
    return [(claim.text, *spans[claim.citation_ids[0]]) for claim in answer.claims
            if claim.citation_ids and claim.citation_ids[0] in spans]


def _citation_part(text, abstained, citations, item, judge) -> dict[str, Any]:
    if abstained or not text:
        return {"citation_recall": None, "citation_precision": None, "invalid_citation_rate": None,
                "source_precision": None, "sentences": []}

    def supports(sentence: str, snippet: str) -> bool:
        # A conflict note ("The sources differ on X: one says “a”, the other “b”") quotes one
        # amount from each cited span; it is supported by a span that contains its quote.
        if sentence.startswith(CONFLICT_NOTE_PREFIX):
            return any(q in snippet for q in re.findall(r"“([^”]+)”", sentence))
        # No question: a sentence must stand on its snippet alone (stricter than answering).
        return judge.scores(sentence, [snippet])[0] >= judge.threshold

    scores = M.citation_scores(M.split_sentences(text), {c.id: c.snippet for c in citations}, supports)
    return {
        "citation_recall": scores.recall,
        "citation_precision": scores.precision,
        "invalid_citation_rate": scores.invalid_rate,
        "source_precision": M.source_precision((c.source for c in citations), item.sources),
        "sentences": [
            {"text": v.text, "citation_ids": v.citation_ids, "invalid_ids": v.invalid_ids,
             "supported": v.supported, "precise": {str(k): p for k, p in v.precise.items()}}
            for v in scores.sentences
        ],
    }


def aggregate(run_items: list[dict], items: list[GoldItem], wall_s: float | None = None) -> dict[str, Any]:
    """Macro averages over the items where each measure is defined."""
    answerable = [r for r in run_items if r["answerable"]]
    acc, false_rate = M.abstention_rates([r["answerable"] for r in run_items], [r["abstained"] for r in run_items])
    latencies = [r["latency_s"] for r in run_items]

    def avg(key: str, rows: list[dict] = run_items) -> float | None:
        return M.mean(r.get(key) for r in rows)

    metrics: dict[str, Any] = {
        "n_items": len(run_items),
        "n_answerable": len(answerable),
        "n_unanswerable": len(run_items) - len(answerable),
        "n_errors": sum(1 for r in run_items if r["error"]),
        "fact_recall": avg("fact_recall", answerable),
        "first_sentence_hit_rate": avg("first_sentence_hit", answerable),
        "fact_sentence_share": avg("fact_sentence_share", answerable),
        "dangling_reference_share": avg("dangling_reference_share", answerable),
        "words_median": M.percentile([r["words"] for r in answerable if r.get("words") is not None], 50),
        "all_facts_rate": M.mean(float(not r["facts_missed"]) for r in answerable if r["fact_recall"] is not None),
        "context_fact_recall": avg("context_fact_recall", answerable),
        "token_f1": avg("token_f1", answerable),
        "answer_cosine": avg("answer_cosine", answerable),
        "citation_recall": avg("citation_recall"),
        "citation_precision": avg("citation_precision"),
        "invalid_citation_rate": avg("invalid_citation_rate"),
        "source_precision": avg("source_precision"),
        "abstention_accuracy": acc,
        "false_abstention_rate": false_rate,
        "recall_at_k": avg("recall_at_k", answerable),
        "mrr": avg("reciprocal_rank", answerable),
        "ndcg_at_10": avg("ndcg_at_10", answerable),
        "latency_p50_s": M.percentile(latencies, 50),
        "latency_p95_s": M.percentile(latencies, 95),
        "latency_mean_s": M.mean(latencies),
        "latency_total_s": sum(latencies),
    }
    if wall_s is not None:
        metrics["wall_s"] = wall_s
    by_cat: dict[str, list[dict]] = {}
    for r in answerable:
        by_cat.setdefault(r["category"], []).append(r)
    metrics["fact_recall_by_category"] = {
        c: round(v, 4) if v is not None else None
        for c, rows in sorted(by_cat.items()) for v in [avg("fact_recall", rows)]
    }
    metrics["intervals"] = intervals(run_items)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}


def intervals(run_items: list[dict]) -> dict[str, list[float]]:
    """95 % intervals of the headline quality metrics: Wilson for rates, bootstrap for means
    of per-item scores. A part with 7 unanswerable items cannot tell 0.43 from 0.70, and a
    reader should see that before comparing two runs."""
    answerable = [r for r in run_items if r["answerable"]]
    abstained = [r["abstained"] for r in run_items if not r["answerable"]]
    hits = [r["first_sentence_hit"] for r in answerable if r.get("first_sentence_hit") is not None]
    found = {
        "fact_recall": M.bootstrap_interval(r.get("fact_recall") for r in answerable),
        "first_sentence_hit_rate": M.wilson_interval(sum(hits), len(hits)),
        "source_precision": M.bootstrap_interval(r.get("source_precision") for r in run_items),
        "abstention_accuracy": M.wilson_interval(sum(abstained), len(abstained)),
        "false_abstention_rate": M.wilson_interval(sum(r["abstained"] for r in answerable), len(answerable)),
    }
    return {k: [round(lo, 3), round(hi, 3)] for k, v in found.items() if v is not None for lo, hi in [v]}


# ----- judge agreement and thresholds ------------------------------------------------
def load_labels(path: str | Path) -> list[dict[str, Any]]:
    """Hand-labelled ``{"sentence", "snippet", "supported"}`` pairs (JSONL)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Judge labels file {str(path)!r} does not exist; pass --labels or omit it.")
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not valid JSON ({exc.msg}).") from None
        for name, kind in (("sentence", str), ("snippet", str), ("supported", bool)):
            if not isinstance(raw.get(name), kind):
                raise InputError(f"{path}:{n}: field {name!r} must be a {kind.__name__}, got {raw.get(name)!r}.")
        pairs.append(raw)
    return pairs


def judge_agreement(pairs: list[dict[str, Any]], embeddings: Any) -> dict[str, Any]:
    """How often ``SupportJudge`` (as the eval uses it) agrees with the hand labels."""
    from assistant.answering.verification import SupportJudge

    judge = SupportJudge(embeddings)
    scores = [judge.scores(p["sentence"], [p["snippet"]])[0] for p in pairs]
    predicted = [s >= judge.threshold for s in scores]
    out: dict[str, Any] = M.agreement([p["supported"] for p in pairs], predicted)
    out["threshold"] = judge.threshold
    # Only dev labels are written out: results.json is read while tuning, and the test labels stay
    # sealed (their disagreements count in fp/fn above, nowhere else).
    out["disagreements"] = [
        {"id": p.get("id"), "sentence": p["sentence"], "snippet": p["snippet"], "label": p["supported"],
         "score": round(s, 4), "note": p.get("note", "")}
        for p, s, pred in zip(pairs, scores, predicted, strict=True)
        if pred != p["supported"] and split_of(str(p.get("id", ""))) == "dev"
    ]
    return out


def gate_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The headline metrics plus the judge's agreement as ``judge_accuracy``, ``judge_kappa``..."""
    metrics = dict(result["metrics"])
    for key in ("accuracy", "precision", "recall", "kappa"):
        if result.get("judge_agreement"):
            metrics[f"judge_{key}"] = result["judge_agreement"][key]
    return metrics


def load_thresholds(path: str | Path) -> dict[str, dict[str, float]]:
    """``[min]`` and ``[max]`` tables of metric bounds from a TOML file."""
    return _bounds(read_toml(path, "Thresholds file"))


def _bounds(table: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {"min": dict(table.get("min", {})), "max": dict(table.get("max", {}))}


def thresholds_for(path: str | Path, suite: str, first: bool = False) -> dict[str, dict[str, float]] | None:
    """Bounds for one suite: its ``[<suite>.min]``/``[<suite>.max]`` tables, else the
    top-level ``[min]``/``[max]`` when it is the first suite run (the seeds), else None."""
    data = read_toml(path, "Thresholds file")
    own = data.get(suite)
    if isinstance(own, dict) and ("min" in own or "max" in own):
        return _bounds(own)
    return _bounds(data) if first else None


def check_thresholds(metrics: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> list[str]:
    """Human-readable failures; empty when every bound holds."""
    failures = []
    for kind, bounds in thresholds.items():
        for name, bound in bounds.items():
            value = metrics.get(name)
            if value is None:
                failures.append(f"{name}: no value (bound {kind} {bound})")
            elif (kind == "min" and value < bound) or (kind == "max" and value > bound):
                word = "below the minimum" if kind == "min" else "above the maximum"
                failures.append(f"{name} = {value:.4f} is {word} {bound}")
    return failures
