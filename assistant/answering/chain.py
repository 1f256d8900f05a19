"""The answering chain: understand -> gather evidence -> decide -> write -> finish -> Answer.

Each stage is a method returning a small typed result, so ``stream`` reads
as the stages in order. Two generators share everything but the writing
step: ``extractive`` quotes the best-supported source sentences; an LLM
writes (``writing.py``: by default one direct sentence from the best span)
and every sentence it writes is checked against the spans (``claims.py``).
What the LLM gets wrong is dropped, and what it leaves out is completed
from the evidence, so the LLM path can only add to the extractive one.
The stream carries only checked sentences, each as soon as it is checked;
joined, they are the final answer's text.

The manifest is read once per question (``source_facts.py``): dates, PDF
pages and follow-up questions all come from that one snapshot.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any

from assistant.answer import Answer
from assistant.answering.abstention import Abstention, check_coverage, lead_with_figure, second_look
from assistant.answering.answer_length import lead_stands_alone
from assistant.answering.arrangement import arrange_for_reading
from assistant.answering.bridges import Hops, bridge_name, question_hops
from assistant.answering.claims import DraftClaim, extractive_claims
from assistant.answering.conflicts import CONFLICT_NOTE_PREFIX, NotedConflict, note_conflicts
from assistant.answering.evidence import (
    GatheredEvidence,
    Span,
    choose_spans,
    drop_other_instances,
    lead_with_current_events,
    lead_with_focus,
    rank_spans,
)
from assistant.answering.evidence_coverage import unmatched_nouns
from assistant.answering.followups import suggest_follow_ups
from assistant.answering.overview import asks_for_overview, document_openings
from assistant.answering.question_parts import (
    parts_with_earlier_names,
    question_alternatives,
    question_parts,
)
from assistant.answering.question_shape import question_shape
from assistant.answering.questions import (
    UnderstoodQuestion,
    understand_question,
    validate_question,
    wants_latest,
)
from assistant.answering.referents import name_the_referent
from assistant.answering.rendering import ClaimRenderer, render_claims, render_conflicts
from assistant.answering.retrieval import STORY_CHUNKS
from assistant.answering.source_facts import (
    DocumentSnapshot,
    attach_source_facts,
    newest_corpus_date,
    newest_source_date,
)
from assistant.answering.writing import rewrite_follow_up, write_direct, write_from_spans
from assistant.settings import Settings

# validate_question and CONFLICT_NOTE_PREFIX are imported from here by the web
# service, MCP and the eval harness; they live with the stage that uses them.
__all__ = ["CONFLICT_NOTE_PREFIX", "AnswerChain", "validate_question"]

#: Sentences in the answer to a one-fact question ("one or two", issue 15).
NARROW_ANSWER_SENTENCES = 2


class StageClock:
    """Seconds since the question arrived, and per stage: what ``Answer.timings`` reports."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}

    def since_start(self, name: str) -> None:
        self.timings[name] = time.perf_counter() - self.start

    def first_token(self) -> None:
        self.timings.setdefault("first_token_s", time.perf_counter() - self.start)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - began

    def word_stream(self, text: str) -> Iterator[str]:
        """``text`` word by word, as tokens for a surface that shows the answer being written."""
        self.first_token()
        yield from re.findall(r"\S+\s*", text)

    def rounded(self) -> dict[str, float]:
        return {name: round(seconds, 4) for name, seconds in self.timings.items()}


class AnswerChain:
    """Runs one question end to end; stateless between questions."""

    def __init__(self, settings: Settings, retriever, embeddings, chat_model, index, judge, matcher=None):
        self.settings = settings
        self.retriever = retriever
        self.embeddings = embeddings
        # The index encoder (e5 by default) scores whether a sentence answers the question.
        self.matcher = matcher if matcher is not None else embeddings
        self.chat_model = chat_model
        self.index = index
        self.judge = judge

    def stream(self, question: str, k: int | None = None, history: list | None = None) -> Iterator[str | Answer]:
        """Yield the answer's verified sentences as each is known, then the final ``Answer``.

        The pieces joined are exactly ``Answer.text``: nothing is shown that
        the answer does not keep.

        Raises:
            InputError: the question is not text, empty or too long.
            BackendError: the chat model failed.
        """
        clock = StageClock()
        understood = self.understand(question, history or [])
        # One snapshot: every stage sees the same documents, even during another ingest.
        documents: DocumentSnapshot = dict(self.index.manifest().documents)
        metadata = self._start_metadata(understood)
        # A follow-up's own words ("What about Japan?") steer which sentences answer it.
        focus = understood.asked if understood.query != understood.asked else ""
        if not history and asks_for_overview(understood.asked, self.embeddings,
                                             lambda: self._best_passage_match(understood.asked)):
            yield from self._overview(understood.asked, documents, metadata, clock)
            return
        # A question asking two things ("... and when did she resign?") is answered part by part.
        # So is one choosing between names ("Who is older, Annie Morton or Terry Richardson?").
        parts = question_parts(understood.query) if not focus else [understood.query]
        parts = question_alternatives(understood.query) if len(parts) == 1 and not focus else parts
        limit = None if len(parts) > 1 else self._sentence_limit(understood.asked)
        unanswered: list[str] = []
        # A question about something it only describes ("... held by the woman who portrayed
        # Corliss Archer?") is answered in two hops when both find what they ask.
        hops = question_hops(understood.query) if len(parts) == 1 and not focus else None
        hopped = self._gather_hops(understood.query, hops, k, documents, metadata, clock) if hops else None
        if len(parts) > 1:
            gathered, verdict, unanswered = self._gather_parts(understood.query, parts, k, documents, metadata,
                                                               clock)
        elif hopped is not None:
            (gathered, verdict), limit = hopped, None  # trimmed by _gather_hops
        else:
            gathered, verdict = self._gather_one(understood, k, documents, focus, metadata, clock)
        if verdict.abstain:
            yield from self._abstain(verdict, gathered.evidence, metadata, clock)
            return
        if verdict.not_covered:
            metadata["not_covered"] = verdict.not_covered
        evidence, conflicts = note_conflicts(understood.asked, gathered.spans, gathered.evidence)
        shown = ShownText(ClaimRenderer(evidence), self._as_of_lead(understood.asked, evidence, documents, metadata),
                          clock)
        claims = self.write(understood, gathered.evidence, limit)
        with clock.measure("generate_s"):
            while True:
                try:
                    claim = next(claims)
                except StopIteration as done:
                    metadata.update(done.value or {})
                    break
                yield shown.add(claim)
        for noted in conflicts:
            yield shown.add(noted.note)
        if verdict.not_covered:
            yield shown.note(f" The documents do not mention {_join(verdict.not_covered)}.")
        for part in unanswered:
            yield shown.note(f" The documents do not answer this part of the question: {part}")
        yield self.finish(understood.asked, gathered, shown, conflicts, documents, metadata, clock)

    # ----- stages ---------------------------------------------------------------
    def understand(self, question: object, history: list) -> UnderstoodQuestion:
        """Validate the question; a follow-up becomes standalone (rewritten by the model when it can)."""
        rewrite = None
        if self.chat_model is not None and history and self.settings.llm_rewrites_follow_ups:
            def rewrite(follow_up: str, previous: str) -> str:
                return rewrite_follow_up(self.chat_model, self.settings.llm, self.settings.prompts_dir,
                                         follow_up, previous)
        return understand_question(question, history, self.settings.max_question_chars, rewrite,
                                   case_forms=self.index.case_forms())

    def gather(self, query: str, k: int | None, documents: DocumentSnapshot, clock: StageClock,
               focus: str = "") -> GatheredEvidence:
        """Retrieve chunks for ``query``, rank their sentences and choose the evidence."""
        chunks = self.retriever.search(query, k=k or self.settings.k, story_chunks=STORY_CHUNKS) if query else []
        clock.since_start("retrieve_s")
        with clock.measure("evidence_s"):
            spans, matrix = rank_spans(query, chunks, self.embeddings) if chunks else ([], None)
            evidence = (
                choose_spans(query, spans, matrix, self.settings.evidence_sentences)
                if spans and matrix is not None else []
            )
            evidence = drop_other_instances(query, chunks, evidence)
            if focus:
                evidence = lead_with_focus(focus, spans, evidence)
            match = None
            # Only the match check reads which question nouns the passages lack: in the chunks
            # retrieved for the question, as when its threshold was calibrated, not in the story
            # chunks added for their sentences (a second chunk's "reception" answered "What was
            # the reception of Twilight Princess?", whose paragraph is not indexed).
            checked = chunks and self.settings.match_threshold_for(self.matcher) is not None
            retrieved = [c.page_content for c in chunks if not c.metadata.get("story")]
            unmatched = unmatched_nouns(query, retrieved) if checked else []
            threshold = self._match_threshold(unmatched)
            if threshold is not None and evidence:
                # The index encoder reads whether a sentence answers the question (decide
                # abstains below the threshold); one that does may lead from lower down.
                evidence, match = second_look(query, spans, evidence, self.matcher, threshold,
                                              kind_suffices=not unmatched)
            evidence = lead_with_figure(query, chunks, spans, evidence)
            attach_source_facts(spans, documents)
        return GatheredEvidence(chunks, spans, evidence, match, unmatched)

    def _best_passage_match(self, question: str) -> float:
        """The cosine of ``question``'s closest sentence among the passages retrieved for it (0.0 if none)."""
        chunks = self.retriever.search(question, k=self.settings.k, story_chunks=STORY_CHUNKS)
        spans, _ = rank_spans(question, chunks, self.embeddings) if chunks else ([], None)
        return max((s.cosine for s in spans), default=0.0)

    def _gather_one(self, understood: UnderstoodQuestion, k: int | None, documents: DocumentSnapshot,
                    focus: str, metadata: dict[str, Any], clock: StageClock) -> tuple[GatheredEvidence, Abstention]:
        """Evidence for a question asking one thing, and the verdict on it."""
        gathered = self.gather(understood.query, k, documents, clock, focus)
        metadata["retrieved"] = [c.metadata["id"] for c in gathered.chunks]
        metadata["best_evidence_score"] = gathered.best_score()
        if gathered.match is not None:
            metadata["best_question_match"] = round(gathered.match, 4)
        if gathered.unmatched:
            metadata["unmatched_question_words"] = gathered.unmatched
        verdict = self.decide(understood.asked, gathered, documents)
        if not verdict.abstain:
            # After deciding (an abstention cites its evidence by position, and the lead's score
            # decides): a dated article's background gives way, and the sentence that names what
            # the lead refers to may score below the bar.
            gathered.evidence = lead_with_current_events(understood.query, gathered.evidence)
            lead = gathered.evidence[0]
            gathered.evidence = name_the_referent(understood.query, gathered.spans, gathered.evidence)
            gathered.evidence = self._shortened(understood.query, gathered, lead)
            gathered.evidence = arrange_for_reading(understood.query, gathered.spans, gathered.evidence)
        return gathered, verdict

    def _gather_hops(self, question: str, hops: Hops, k: int | None, documents: DocumentSnapshot,
                     metadata: dict[str, Any], clock: StageClock) -> tuple[GatheredEvidence, Abstention] | None:
        """Evidence for ``question`` in two hops: the sentence naming what it describes, then the
        answer about that name; None when either hop finds nothing (the one-query path answers)."""
        first = self.gather(hops.find, k, documents, clock)
        bridge = bridge_name(hops, [s.text for s in first.evidence[:2]], question)
        naming = next((s for s in first.evidence[:2] if bridge and _names(s, bridge)), None)
        if bridge is None or naming is None:
            return None
        asked = hops.second(bridge)
        second = self.gather(asked, k, documents, clock)
        verdict = self.decide(asked, second, documents)
        if verdict.abstain:
            return None
        answer = [s for s in second.evidence if (s.doc_id, s.start) != (naming.doc_id, naming.start)]
        # After its lead, by score: the second hop asks about one name, so its best sentences
        # share words with each other, which the diversity of ``choose_spans`` penalises.
        answer = (answer[:1] + sorted(answer[1:], key=lambda s: -s.score))[: self._sentence_limit(asked)]
        # The answer goes first when it names the bridge itself ("Carlo Rovelli ... has worked ...
        # since 2000, in France"); one that refers back ("the county population was 9,984") after
        # the sentence that names it.
        names_it = bool(answer) and _names(answer[0], bridge)
        evidence = [answer[0], naming, *answer[1:]] if names_it else [naming, *answer]
        metadata["hops"] = {"first": hops.find, "bridge": bridge, "then": asked}
        return self._merged([first, second], evidence, metadata), verdict

    def _gather_parts(self, question: str, parts: list[str], k: int | None, documents: DocumentSnapshot,
                      metadata: dict[str, Any], clock: StageClock) -> tuple[GatheredEvidence, Abstention, list[str]]:
        """Evidence for each part of ``question`` (``parts``, asking several things), merged in the parts' order.

        Each part is gathered and decided as a question of its own, and keeps the sentences
        its own answer would show. Returns the merged evidence, the verdict (the first part's
        abstention when no part is answered) and the parts the documents do not answer.
        """
        answered: list[GatheredEvidence] = []
        unanswered: list[str] = []
        not_covered: list[str] = []
        refusals: list[tuple[Abstention, GatheredEvidence]] = []
        metadata["parts"] = []
        fuller = parts_with_earlier_names(question)
        fuller = fuller if len(fuller) == len(parts) else parts  # alternatives each name their own
        for part, with_names in zip(parts, fuller, strict=True):
            gathered = self.gather(part, k, documents, clock)
            verdict = self.decide(part, gathered, documents)
            if verdict.abstain and with_names != part:
                # "... and who is affected?": unanswered alone, it may be about what the first
                # part named. Still unanswered, it is named to the user in their own words.
                retried = self.gather(with_names, k, documents, clock)
                again = self.decide(with_names, retried, documents)
                if not again.abstain:
                    part, gathered, verdict = with_names, retried, again
            metadata["parts"].append({"question": part, "abstained": verdict.abstain,
                                      **({"abstain_reason": verdict.reason} if verdict.abstain else {})})
            if verdict.abstain:
                unanswered.append(part)
                refusals.append((verdict, gathered))
                continue
            not_covered += [name for name in verdict.not_covered if name not in not_covered]
            gathered.evidence = lead_with_current_events(part, gathered.evidence)
            lead = gathered.evidence[0]
            gathered.evidence = name_the_referent(part, gathered.spans, gathered.evidence)
            gathered.evidence = self._shortened(part, gathered, lead)[: self._sentence_limit(part)]
            gathered.evidence = arrange_for_reading(part, gathered.spans, gathered.evidence)
            answered.append(gathered)
        if not answered:
            verdict, gathered = refusals[0]
            return gathered, verdict, unanswered
        evidence = list({(s.doc_id, s.start): s for g in answered for s in g.evidence}.values())
        return self._merged(answered, evidence, metadata), Abstention(False, not_covered=not_covered), unanswered

    @staticmethod
    def _merged(gathered: list[GatheredEvidence], evidence: list[Span], metadata: dict[str, Any]) -> GatheredEvidence:
        """Several gathers as one, answering with ``evidence``: their chunks once each and all
        their spans; ``metadata`` reports the chunks retrieved and the best evidence score."""
        chunks = list({c.metadata["id"]: c for g in gathered for c in g.chunks}.values())
        merged = GatheredEvidence(chunks, [s for g in gathered for s in g.spans], evidence)
        metadata["retrieved"] = [c.metadata["id"] for c in chunks]
        metadata["best_evidence_score"] = merged.best_score()
        return merged

    @staticmethod
    def _sentence_limit(asked: str) -> int | None:
        """A one-fact question gets one or two sentences: the third rarely adds the fact
        and pads the answer (dev, both suites: median words 64 -> 46 and 62 -> 52)."""
        return None if question_shape(asked).broad else NARROW_ANSWER_SENTENCES

    def _shortened(self, asked: str, gathered: GatheredEvidence, lead: Span) -> list[Span]:
        """The evidence, cut to ``lead`` when a one-fact question's lead reads as the answer by a
        margin (``answer_length``). Only when the match check ran, under whose encoder the margin
        was chosen, and when no sentence was put before the lead to name what it refers to."""
        evidence = gathered.evidence
        if gathered.match is None or evidence[0] is not lead or question_shape(asked).broad:
            return evidence
        return evidence[:1] if lead_stands_alone(asked, gathered.spans, evidence, self.matcher) else evidence

    def _match_threshold(self, unmatched: list[str]) -> float | None:
        """The question match needed to answer: stricter when a question noun is in no passage."""
        if unmatched:
            return self.settings.unmatched_match_threshold_for(self.matcher)
        return self.settings.match_threshold_for(self.matcher)

    def decide(self, asked: str, gathered: GatheredEvidence, documents: DocumentSnapshot) -> Abstention:
        """Whether the evidence answers ``asked`` fully, partly (``not_covered``) or not at all."""
        return check_coverage(
            asked, gathered.chunks, gathered.evidence, self.settings.abstain_threshold,
            newest_corpus_date(documents), self.embeddings,
            gathered.match, self.settings.match_threshold_for(self.matcher), gathered.unmatched,
            self.settings.unmatched_match_threshold_for(self.matcher),
        )

    def write(self, understood: UnderstoodQuestion, evidence: list[Span],
              limit: int | None = None) -> Generator[DraftClaim, None, dict]:
        """Yield at most ``limit`` of the answer's claims, each once verified; return what
        writing them did (metadata).

        Extractive: the evidence quoted. LLM: the model's sentences that the
        judge verifies (``writing.py``), completed from the evidence.
        """
        if self.chat_model is None:
            yield from extractive_claims(evidence[:limit])
            return {}
        writer = write_direct if self.settings.llm_writer == "direct" else write_from_spans
        return (yield from _at_most(limit, writer(self.chat_model, self.settings.llm, self.settings.prompts_dir,
                                                  understood.standalone, evidence[:limit], self.judge)))

    def finish(self, asked: str, gathered: GatheredEvidence, shown: ShownText, conflicts: list[NotedConflict],
               documents: DocumentSnapshot, metadata: dict[str, Any], clock: StageClock) -> Answer:
        """The ``Answer`` of the text shown: citations, claims, conflicts, follow-ups and timings."""
        rendered = shown.renderer.rendered()
        follow_ups = suggest_follow_ups(asked, documents, gathered.chunks, rendered.citations)
        clock.since_start("total_s")
        return Answer(
            text=shown.text, citations=rendered.citations, claims=rendered.claims, metadata=metadata,
            conflicts=render_conflicts(conflicts, shown.renderer.evidence, rendered.citations),
            follow_ups=follow_ups, timings=clock.rounded(),
        )

    # ----- helpers of the stages ----------------------------------------------
    def _start_metadata(self, understood: UnderstoodQuestion) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "generator": self.settings.llm if self.chat_model is not None else "extractive",
            "query": understood.query,
        }
        if understood.instruction_ignored:
            metadata["instruction_ignored"] = True
        if understood.rewritten:
            metadata["query_rewritten"] = True  # by the model, and checked
        return metadata

    def _abstain(self, verdict: Abstention, evidence: list[Span], metadata: dict[str, Any],
                 clock: StageClock) -> Iterator[str | Answer]:
        """Say why the documents do not answer, quoting the closest evidence when it helps."""
        metadata["abstain_reason"] = verdict.reason
        context = verdict.context_span
        drafts = [DraftClaim(evidence[context].text.strip(), [context])] if context is not None else []
        rendered = render_claims(drafts, evidence)
        text = verdict.message + (f" The closest the documents come: {rendered.text}" if rendered.text else "")
        yield from clock.word_stream(text)
        clock.since_start("total_s")
        yield Answer(text=text, citations=rendered.citations, claims=rendered.claims, abstained=True,
                     metadata=metadata, timings=clock.rounded())

    def _overview(self, asked: str, documents: DocumentSnapshot, metadata: dict[str, Any],
                  clock: StageClock) -> Iterator[str | Answer]:
        """Answer a question about the documents themselves by each one's opening sentence, cited."""
        openings = document_openings(documents, self.index)
        attach_source_facts(openings, documents)
        metadata["overview"] = {"documents": len(documents), "quoted": len(openings)}
        if not openings:
            lead = ""
        elif len(documents) == 1:
            lead = "There is one document. It opens: "
        else:
            lead = f"There are {len(documents)} documents. Their opening sentences, newest first: "
        shown = ShownText(ClaimRenderer(openings), lead, clock)
        for claim in extractive_claims(openings):
            yield shown.add(claim)
        if len(documents) > len(openings):
            yield shown.note(f" {len(documents) - len(openings)} more documents are indexed; ask about a topic "
                             "or name one to hear what it says.")
        yield self.finish(asked, GatheredEvidence([], openings, openings), shown, [], documents, metadata, clock)

    @staticmethod
    def _as_of_lead(asked: str, evidence: list[Span], documents: DocumentSnapshot, metadata: dict[str, Any]) -> str:
        """"As of <date> (the newest source date): " when the question asks for the latest, else "".

        The date is the newest one written in the evidence's documents (the
        answer cites them all, or repeats them): it is known before the first
        sentence is shown, so the lead can come first. It also goes into
        ``metadata["as_of"]``.
        """
        if not wants_latest(asked):
            return ""
        as_of = newest_source_date(documents, [span.doc_id for span in evidence])
        if not as_of:
            return ""
        metadata["as_of"] = as_of
        return f"As of {as_of} (the newest source date): "


class ShownText:
    """The answer text as shown so far: rendered claims, the as-of lead before the first, closing notes."""

    def __init__(self, renderer: ClaimRenderer, lead: str, clock: StageClock) -> None:
        self.renderer = renderer
        self.lead = lead
        self.clock = clock
        self.pieces: list[str] = []

    def add(self, claim: DraftClaim) -> str:
        """Render ``claim`` and return its piece of text (the lead goes with the first)."""
        return self.note(self.renderer.add(claim))

    def note(self, piece: str) -> str:
        if not self.pieces:
            self.clock.first_token()
            piece = self.lead + piece
        self.pieces.append(piece)
        return piece

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _at_most(limit: int | None, claims: Generator[DraftClaim, None, dict]) -> Generator[DraftClaim, None, dict]:
    """The first ``limit`` claims (all when None); the rest are drained unshown, for the writer's metadata."""
    shown = 0
    while True:
        try:
            claim = next(claims)
        except StopIteration as done:
            return done.value or {}
        if limit is None or shown < limit:
            shown += 1
            yield claim


def _names(span: Span, name: str) -> bool:
    """Whether ``span`` holds ``name``, read as the parse read it: with its spaces collapsed
    (a name across a line break)."""
    return name in " ".join(span.text.split())
