"""How one answer is scored against its gold item."""

from types import SimpleNamespace

from langchain_core.documents import Document as LCDocument

from assistant.evaluation.harness import GoldItem, score_item


class _FakeAssistant:
    """Answers every question with one fixed answer; retrieves one chunk holding the fact."""

    def __init__(self, text: str, abstained: bool):
        self.settings = SimpleNamespace(k=4)
        self._answer = SimpleNamespace(text=text, abstained=abstained, citations=[], claims=[], metadata={}, timings={})

    def ask(self, question):
        return self._answer

    def as_retriever(self, k):
        chunk = LCDocument(page_content="Exports jumped 60.3% in June.", metadata={"id": "doc:0"})
        return SimpleNamespace(search=lambda question, story_chunks=0: [chunk])


def test_a_refusal_scores_no_fact_even_when_the_sentence_it_quotes_holds_one():
    item = GoldItem("story-01", "How much did exports jump?", True, [["60.3%"]], ["doc"])
    refusal = ("The documents do not give that figure. The closest the documents come: "
               "Exports jumped 60.3% in June [1].")
    scored = score_item(_FakeAssistant(refusal, abstained=True), item, judge=None)
    assert scored["fact_recall"] == 0.0 and scored["facts_missed"] == ["60.3%"]
    assert scored["first_sentence_hit"] is False and scored["context_fact_recall"] == 1.0
    answered = score_item(_FakeAssistant("Exports jumped 60.3% in June.", abstained=False), item, judge=None)
    assert answered["fact_recall"] == 1.0 and answered["first_sentence_hit"] is True


def test_the_judge_report_writes_out_dev_disagreements_only(monkeypatch):
    from assistant.answering import verification
    from assistant.evaluation.harness import judge_agreement
    from assistant.evaluation.splits import split_of

    class _SaysYes:  # supports everything, so every "not supported" label is a disagreement
        threshold = 0.5

        def __init__(self, embeddings):
            pass

        def scores(self, sentence, snippets):
            return [1.0]

    monkeypatch.setattr(verification, "SupportJudge", _SaysYes)
    ids = [f"j{n}" for n in range(40)]
    dev = [i for i in ids if split_of(i) == "dev"]
    test = [i for i in ids if split_of(i) == "test"]
    assert dev and test
    pairs = [{"id": i, "sentence": "s", "snippet": "t", "supported": False} for i in dev[:2] + test[:3]]
    out = judge_agreement(pairs, embeddings=None)
    assert out["fp"] == 5  # every disagreement counts
    assert [d["id"] for d in out["disagreements"]] == dev[:2]  # but only dev ones are written out
