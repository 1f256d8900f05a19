from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.ingest.chunking import chunk_document
from assistant.ingest.documents import load_documents, parse_document
from assistant.text.tokens import count_tokens
from tests.conftest import SEEDS

_line = st.one_of(
    st.sampled_from(["What's happened", "Go deeper", "Overview", "# Heading", "- a bullet point here.", "", "-"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=300),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, max_size=30), size=st.integers(16, 200))
def test_offsets_round_trip_on_any_text(lines, size):
    text = "\n".join(lines)
    doc = parse_document(text, "doc")
    for chunk in chunk_document(doc, chunk_tokens=size, chunk_overlap=size // 4):
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip()


def test_seed_chunks_round_trip_and_respect_sections():
    docs, _ = load_documents([SEEDS])
    for doc in docs:
        chunks = chunk_document(doc, chunk_tokens=60, chunk_overlap=10)
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            inside = [b for b in doc.blocks if b.start >= chunk.start and b.end <= chunk.end]
            assert {b.section for b in inside if b.kind != "boilerplate"} <= {chunk.section}


def test_chunks_respect_the_token_budget():
    docs, _ = load_documents([SEEDS])
    for doc in docs:
        for chunk in chunk_document(doc, chunk_tokens=48, chunk_overlap=8):
            assert count_tokens(chunk.text) <= 48 + 2  # word cuts may round by a token


def test_ids_are_stable_and_unique():
    docs, _ = load_documents([SEEDS])
    first = [c.id for d in docs for c in chunk_document(d)]
    second = [c.id for d in docs for c in chunk_document(d)]
    assert first == second
    assert len(set(first)) == len(first)


def test_overlap_repeats_trailing_sentences():
    text = "Overview\n" + " ".join(f"Sentence number {i} is here." for i in range(40))
    doc = parse_document(text, "d")
    chunks = chunk_document(doc, chunk_tokens=40, chunk_overlap=12)
    assert len(chunks) > 2
    assert all(a.end > b.start for a, b in zip(chunks, chunks[1:], strict=False))
