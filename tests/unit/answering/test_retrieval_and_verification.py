from langchain_core.documents import Document

from assistant.answering.retrieval import complete_stories, diversify, reciprocal_rank_fusion
from assistant.answering.verification import (
    parse_markers,
    split_claims,
    strip_markers,
    word_support,
)
from tests.conftest import EXPLAINER, STORY


def test_rrf_hand_computed():
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a"]], k=60)
    assert abs(scores["a"] - (1 / 61 + 1 / 62)) < 1e-12
    assert abs(scores["b"] - (1 / 62 + 1 / 61)) < 1e-12
    assert abs(scores["c"] - 1 / 63) < 1e-12


def _doc(cid, doc_id, score, start=0, end=100):
    return Document(page_content=cid, metadata={"id": cid, "doc_id": doc_id, "fused_score": score,
                                                "start": start, "end": end})


def test_diversity_gives_each_relevant_source_a_slot():
    cands = [_doc("a1", "A", 1.0, 0, 100), _doc("a2", "A", 0.9, 200, 300), _doc("a3", "A", 0.8, 400, 500),
             _doc("b1", "B", 0.7)]
    picked = [d.metadata["id"] for d in diversify(cands, 2)]
    assert picked == ["a1", "b1"]


def test_diversity_skips_overlapping_chunks():
    cands = [_doc("a1", "A", 1.0, 0, 100), _doc("a2", "A", 0.9, 10, 110), _doc("a3", "A", 0.8, 200, 300)]
    assert [d.metadata["id"] for d in diversify(cands, 2)] == ["a1", "a3"]


def test_the_best_documents_get_more_of_their_candidate_chunks():
    # "b1" is a chunk of the second-best document that ranked below chunks of others.
    cands = [_doc("a1", "A", 1.0), _doc("c1", "C", 0.9), _doc("d1", "D", 0.8), _doc("b1", "A", 0.7),
             _doc("c2", "C", 0.6), _doc("a2", "A", 0.5), _doc("d2", "D", 0.4)]
    picked = cands[:3]
    completed = [d.metadata["id"] for d in complete_stories(picked, cands, extra=2)]
    assert completed == ["a1", "c1", "d1", "b1", "c2"]  # D is not among the two best documents
    assert [bool(d.metadata.get("story")) for d in complete_stories(picked, cands, extra=2)] == [False] * 3 + [True] * 2
    assert complete_stories(picked, cands, extra=0) == picked


def test_parse_markers():
    assert parse_markers("One [1]. Two [2, 3]. None [x]. Big [12]") == [1, 2, 3, 12]
    assert strip_markers("Exports rose [1] .") == "Exports rose."


def test_split_claims_keeps_trailing_markers_with_their_sentence():
    claims = split_claims("Exports rose 60.3%. [1] Quotas are secret [2]. Smuggling is targeted.")
    assert claims == ["Exports rose 60.3% [1].", "Quotas are secret [2].", "Smuggling is targeted."]


def test_word_support_requires_every_number():
    span = "China's customs data show exports of rare earths jumped 60.3% year-on-year to 7,742 tonnes in June."
    assert word_support("Exports jumped 60.3% to 7742 tonnes [1].", span) > 0.6
    assert word_support("Exports jumped 70% to 7742 tonnes [1].", span) == 0.0
    assert word_support("Apple bought a bakery.", span) < 0.3


def test_retriever_is_hybrid_and_returns_offsets(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    docs = assistant.as_retriever(k=4).invoke("smuggling mislabeling solder paste ceramics")
    assert docs[0].metadata["doc_id"] == EXPLAINER
    assert "solder paste" in docs[0].page_content
    for d in docs:
        assert {"id", "doc_id", "section", "start", "end", "fused_score"} <= d.metadata.keys()
    text = (seeds_copy / f"{EXPLAINER}.txt").read_text()
    top = docs[0].metadata
    assert text[top["start"] : top["end"]] == docs[0].page_content


def test_dense_and_lexical_modes(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    for mode in ("dense", "lexical"):
        docs = assistant.as_retriever(k=3, mode=mode).invoke("customs data exports jumped tonnes June")
        assert docs and docs[0].metadata["doc_id"] == STORY


class _FixedIndex:
    """Dense and BM25 rankings set by the test."""

    def __init__(self, dense: list[str], lexical: list[tuple[str, float]]):
        self.dense, self.lexical = dense, lexical

    @staticmethod
    def _hit(cid: str, score: float = 0.0):
        from assistant.store.index import ChunkHit

        return ChunkHit(cid, cid, {"doc_id": cid, "start": 0, "end": 10}, score)

    def dense_search(self, vector, n):
        return [self._hit(cid, 0.9 - i / 100) for i, cid in enumerate(self.dense[:n])]

    def lexical_search(self, query, n):
        return self.lexical[:n]

    def get_chunks(self, ids):
        return {cid: self._hit(cid) for cid in ids}


def test_a_bm25_hit_on_words_every_chunk_has_earns_no_fusion_credit():
    from assistant.answering.retrieval import LEXICAL_FLOOR, HybridRetriever
    from tests.fakes import HashingEmbeddings

    # "How long is the Rhine?": two chunks say "long"; the rest match only "Rhine", which all
    # chunks say, and must not outrank the dense side's answer ("second-longest ... 1,230 km").
    weak = LEXICAL_FLOOR * 1.0 / 2
    index = _FixedIndex(dense=["answer", "other", "noise1", "noise2"],
                        lexical=[("long1", 1.0), ("long2", 0.9), ("noise1", weak), ("noise2", weak)])
    retriever = HybridRetriever(index=index, embeddings=HashingEmbeddings(), k=3)
    assert [d.metadata["id"] for d in retriever.search("How long is the Rhine?")] == ["answer", "long1", "other"]
