import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant import Answer
from assistant.errors import IndexStateError, InputError
from tests.conftest import EXPLAINER, STORY


@pytest.fixture
def ready(make_assistant, seeds_copy):
    def build(**kw):
        a = make_assistant(**kw)
        a.ingest([seeds_copy])
        return a, seeds_copy

    return build


def _check_snippets(answer, folder):
    for c in answer.citations:
        text = (folder / f"{c.source}.txt").read_text()
        assert text[c.start : c.end] == c.snippet


def test_extractive_answer_cites_exact_spans(ready):
    assistant, folder = ready()
    answer = assistant.ask("How much did exports of rare earths jump in June, in tonnes?")
    assert not answer.abstained
    assert "7,742" in answer.text and "[1]" in answer.text
    assert answer.citations[0].source == STORY
    _check_snippets(answer, folder)
    assert answer.claims and all(c.supported for c in answer.claims)


def test_off_topic_question_abstains(ready):
    assistant, _ = ready()
    answer = assistant.ask("Who won the football world cup in 1998?")
    assert answer.abstained and answer.citations == []
    assert "do not cover" in answer.text
    # It says what the documents do cover: the titles of the closest ones.
    assert "The closest documents: “" in answer.text and "Global Powers Race" in answer.text


def test_llm_sentence_with_wrong_marker_is_reattributed(ready):
    reply = ("Smuggling tactics include mislabeling rare earths as solder paste [3]. "
             "The moon is made of cheese [1].")
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    assistant, folder = ready(llm="openai", llm_writer="spans", chat_model=model)
    answer = assistant.ask("What smuggling tactics did the Ministry of State Security disclose?")
    assert "cheese" not in answer.text
    assert "solder paste" in answer.text
    first = answer.claims[0]
    cited = next(c for c in answer.citations if c.id == first.citation_ids[0])
    assert "solder paste" in cited.snippet and cited.source == EXPLAINER
    _check_snippets(answer, folder)
    assert answer.metadata["repair"]["dropped_unsupported"] == 1


def test_llm_answer_without_support_falls_back_to_extractive(ready):
    model = GenericFakeChatModel(messages=iter([AIMessage(content="Bananas are yellow and tasty fruit.")]))
    assistant, folder = ready(llm="openai", llm_writer="spans", chat_model=model)
    answer = assistant.ask("What smuggling tactics did the Ministry of State Security disclose?")
    assert answer.metadata["fallback"].startswith("extractive")
    assert answer.citations and "[1]" in answer.text
    _check_snippets(answer, folder)


SPANS_REPLY = ("Smuggling tactics include mislabeling rare earths as solder paste [3]. "
               "The moon is made of cheese [1]. Exports jumped in June [2].")


@pytest.mark.parametrize(
    ("llm", "writer", "reply"),
    [("extractive", "direct", None),
     ("openai", "direct", "Smuggling tactics include mislabeling rare earths as solder paste [1]."),
     ("openai", "direct", "The moon is made of cheese."),
     ("openai", "spans", SPANS_REPLY)],
)
@pytest.mark.parametrize(
    "question",
    ["What smuggling tactics did the Ministry of State Security disclose?",
     "What is the latest on rare earth exports?"],
)
def test_the_stream_is_the_verified_answer_text(ready, llm, writer, reply, question):
    """What a surface shows while streaming is exactly the final text: verified sentences only."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)])) if reply else None
    assistant, _ = ready(llm=llm, llm_writer=writer, chat_model=model)
    events = list(assistant.stream(question))
    pieces, answer = events[:-1], events[-1]
    assert all(isinstance(e, str) for e in pieces) and isinstance(answer, Answer)
    assert "".join(pieces) == answer.text
    assert "cheese" not in answer.text
    if not answer.abstained:
        assert len(pieces) >= len(answer.claims)  # one piece per sentence, not one blob at the end
        assert all("[" in piece for piece in pieces if "As of" not in piece)  # each with its marker


WHOLE_SPAN = ("The Ministry of State Security's public disclosure of smuggling tactics, such as mislabeling rare earths "
              "as solder paste or embedding them in ceramics, signals a robust effort to safeguard national resources.")
TACTICS = "What smuggling tactics did the Ministry of State Security disclose?"


def _direct_and_plain(ready, reply: str):
    """(the answer when the model replies ``reply``, the extractive answer, the corpus folder)."""
    plain, _ = ready()
    assistant, folder = ready(llm="openai", chat_model=GenericFakeChatModel(messages=iter([AIMessage(content=reply)])))
    return assistant.ask(TACTICS), plain.ask(TACTICS), folder


def test_a_verified_direct_sentence_saying_all_its_span_says_goes_first_in_its_place(ready):
    answer, quoted, folder = _direct_and_plain(ready, WHOLE_SPAN)
    assert answer.metadata["direct"]["kept"] and "fallback" not in answer.metadata
    assert answer.claims[0].text == WHOLE_SPAN
    assert answer.text.startswith(WHOLE_SPAN[:-1] + " [1].")
    _check_snippets(answer, folder)
    assert [c.text for c in answer.claims[1:]] == [c.text for c in quoted.claims[1:]]  # the rest of the evidence follows


def test_a_direct_sentence_saying_part_of_its_span_gives_way_to_the_span(ready):
    """Shown first, a shortened span would be repeated by the span right after it."""
    answer, quoted, _ = _direct_and_plain(ready, "Smuggling tactics include mislabeling rare earths as solder paste.")
    assert answer.metadata["direct"] == {"written": "Smuggling tactics include mislabeling rare earths as solder paste.",
                                         "kept": True, "shown": False}
    assert answer.text == quoted.text


def test_an_unsupported_direct_sentence_falls_back_to_the_extractive_answer(ready):
    answer, quoted, _ = _direct_and_plain(ready, "The moon is made of green cheese. And more.")
    assert answer.metadata["fallback"].startswith("extractive") and not answer.metadata["direct"]["kept"]
    assert answer.text == quoted.text
    assert "more" not in answer.metadata["llm_raw"]  # stopped after its one sentence


class RewritingModel:
    """A chat model that rewrites follow-ups with a fixed reply and records what it was asked."""

    def __init__(self, rewrite: str, answer: str = "No.") -> None:
        self.replies = [rewrite, answer]
        self.prompts: list[str] = []

    def stream(self, messages):
        self.prompts.append(messages[-1].content)
        reply = self.replies.pop(0) if self.replies else "No."
        yield AIMessage(content=reply)


def test_a_follow_up_is_rewritten_by_the_model_when_the_rewrite_is_faithful(ready):
    model = RewritingModel("How is China enforcing its rare earth export restrictions against smuggling?")
    assistant, _ = ready(llm="openai", llm_rewrites_follow_ups=True, chat_model=model)
    history = [{"role": "user", "content": "How is China enforcing its rare earth export restrictions?"},
               {"role": "assistant", "content": "..."}]
    answer = assistant.ask("What about smuggling?", history=history)
    assert answer.metadata["query"] == "How is China enforcing its rare earth export restrictions against smuggling?"
    assert "against smuggling?" in model.prompts[1]  # the writer is asked the standalone question


def test_an_unfaithful_rewrite_falls_back_to_condensing(ready):
    model = RewritingModel("What about Japanese magnets?")
    assistant, _ = ready(llm="openai", llm_rewrites_follow_ups=True, chat_model=model)
    history = [{"role": "user", "content": "How is China enforcing its rare earth export restrictions?"}]
    answer = assistant.ask("What about smuggling?", history=history)
    assert answer.metadata["query"] == (
        "What about smuggling? (context: How is China enforcing its rare earth export restrictions?)")


def test_follow_ups_are_not_sent_to_the_model_unless_asked(ready):
    model = RewritingModel("How is China enforcing its rare earth export restrictions against smuggling?",
                           "Smuggling tactics include mislabeling rare earths as solder paste.")
    assistant, _ = ready(llm="openai", chat_model=model)
    history = [{"role": "user", "content": "How is China enforcing its rare earth export restrictions?"}]
    answer = assistant.ask("What about smuggling?", history=history)
    assert len(model.prompts) == 1 and "query_rewritten" not in answer.metadata


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \n\t", "empty"), ("x" * 5000, "5,000 characters"), (None, "must be text")],
)
def test_bad_questions_are_refused(ready, question, message):
    assistant, _ = ready()
    with pytest.raises(InputError, match=message):
        assistant.ask(question)


def test_control_characters_are_cleaned(ready):
    assistant, _ = ready()
    answer = assistant.ask("customs\x00 data\x07 June exports?")
    assert not answer.abstained


def test_asking_an_empty_index_says_what_to_do(make_assistant):
    with pytest.raises(IndexStateError, match="assistant ingest"):
        make_assistant().ask("anything?")


def test_to_dict_has_the_contract_keys(ready):
    assistant, _ = ready()
    data = assistant.ask("What did customs data show about June exports?").to_dict()
    assert list(data) == ["text", "citations", "abstained", "claims", "conflicts", "follow_ups", "timings", "metadata"]
    assert {"id", "source", "title", "section", "snippet", "start", "end", "score"} <= data["citations"][0].keys()


def test_follow_up_question_uses_history(ready):
    assistant, _ = ready()
    history = [{"role": "user", "content": "What smuggling tactics were disclosed?"},
               {"role": "assistant", "content": "..."}]
    answer = assistant.ask("And who disclosed them?", history=history)
    assert "smuggling" in answer.metadata["query"]


def test_model_is_stopped_after_the_sentences_the_prompt_asks_for(ready):
    reply = ("China restricts rare earth exports [1]. Smugglers label rare earths as solder paste [2]. "
             "Exports jumped in June [3]. A fourth sentence the model should never finish writing [1]. "
             "And a fifth [2].")
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    assistant, _ = ready(llm="openai", llm_writer="spans", chat_model=model)
    answer = assistant.ask("How is China enforcing its rare earth export restrictions?")
    raw = answer.metadata["llm_raw"]
    assert "Exports jumped in June [3]." in raw
    assert "fourth" not in raw and "fifth" not in raw


def test_sources_are_cut_to_the_token_budget():
    from assistant.answering.writing import fit_sources
    from assistant.text.tokens import count_tokens

    long = "word " * 3000  # one 'sentence' of a PDF without punctuation
    got = fit_sources(["A short source.", long, "Never reached."], 100)
    assert got[0] == "A short source."
    assert len(got) == 2 and got[1].endswith("…")
    assert count_tokens(got[0]) + count_tokens(got[1]) <= 100 + 2


def test_a_sentence_cut_off_by_the_token_limit_is_not_a_claim():
    from assistant.answering.writing import finished_sentences

    raw = "Exports jumped 60.3% in June [1]. The editorial board highlights the strategic risk, emphasizing its ability"
    assert finished_sentences(raw) == "Exports jumped 60.3% in June [1]."
    assert finished_sentences("One sentence [2].") == "One sentence [2]."
    assert finished_sentences("He said “it rose.”") == "He said “it rose.”"


def test_a_question_about_the_documents_themselves_gets_each_ones_opening_cited(ready):
    assistant, folder = ready()
    answer = assistant.ask("What are these documents about?")
    assert not answer.abstained and answer.text.startswith("There are 2 documents.")
    assert answer.metadata["overview"] == {"documents": 2, "quoted": 2}
    assert sorted(c.source for c in answer.citations) == sorted([STORY, EXPLAINER])
    _check_snippets(answer, folder)
    # In a conversation the same words lean on what came before: answered as a follow-up.
    follow_up = assistant.ask("What are these documents about?", history=[("What is a quota?", answer.text)])
    assert "overview" not in follow_up.metadata


def test_an_overview_opens_a_dated_article_with_its_first_statement_not_its_dateline(ready):
    assistant, folder = ready()
    (folder / "dated.txt").write_text("Published June 12, 2026\n\nNetflix renewed the drama for a second season on Sunday.\n")
    assistant.ingest([folder])
    answer = assistant.ask("What are these documents about?")
    assert "newest first: Netflix renewed the drama for a second season on Sunday [1]." in answer.text
    assert "Published June 12" not in answer.text


def test_a_question_naming_something_is_never_taken_for_a_request_for_an_overview(ready):
    assistant, _ = ready()
    assert "overview" not in assistant.ask("What are the documents about China about?").metadata
