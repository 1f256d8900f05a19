"""The OpenAI-compatible answer text: a PDF citation shows its page, taken from the citation."""

from assistant.answer import Answer, Citation
from assistant.web.openai_routes import format_sources, message_text


def _citation(page: int | None) -> Citation:
    return Citation(id=1, source="explainer_print", title="Explainer", section="How we got here",
                    snippet="China refined most of the world's rare earths.", start=10, end=55, score=0.9, page=page)


def test_a_pdf_citation_shows_its_page_and_others_do_not():
    assert format_sources([_citation(3)]).splitlines()[1].startswith("[1] Explainer — How we got here, p. 3 (")
    assert ", p. " not in format_sources([_citation(None)])
    assert format_sources([]) == ""


def test_the_message_is_the_answer_then_its_sources():
    answer = Answer(text="China refined most of them [1].", citations=[_citation(3)])
    assert message_text(answer).startswith("China refined most of them [1].\n\nSources:\n[1] ")
    assert message_text(Answer(text="I don't know.", abstained=True)) == "I don't know."


def test_streaming_sends_each_verified_sentence_as_it_comes_for_any_generator():
    from assistant.web.openai_routes import _Completion

    answer = Answer(text="China refined most of them [1]. Prices rose [1].", citations=[_citation(None)])

    def events():
        yield "China refined most of them [1]."
        yield " Prices rose [1]."
        yield answer

    chunks = list(_Completion("m", "q").chunks(events()))
    contents = [c["choices"][0]["delta"].get("content") for c in chunks if "choices" in c]
    assert contents[1:3] == ["China refined most of them [1].", " Prices rose [1]."]  # live, not held back
    assert "".join(c for c in contents if c) == message_text(answer)  # no catch-up copy of the text
