from assistant.text.truecase import case_forms, truecase

TEXTS = [
    "US Response: Domestic Production and Strategic Partnerships\n"
    "MP Materials is majority-owned by a fund. The deal gave MP Materials a price floor.\n"
    "China's Ministry of State Security said smuggling rose. Exports from China fell, "
    "The Independent reported. Prices of rare materials rose in the US and in China.",
]


def test_names_are_what_the_documents_mostly_capitalize_mid_sentence():
    forms = case_forms(TEXTS)
    assert forms["mp"] == "MP" and forms["china"] == "China" and forms["us"] == "US"
    assert forms["independent"] == "Independent"
    assert forms["materials"] == "Materials"  # "MP Materials" twice, "rare materials" once: a clear majority
    assert "rare" not in forms and "smuggling" not in forms
    assert "the" not in forms and "exports" not in forms  # sentence-initial capitals say nothing
    assert "response" not in forms  # a title-case heading capitalizes every word


def test_a_question_typed_without_capitals_gets_the_documents_names_back():
    forms = {"mp": "MP", "materials": "Materials", "china": "China", "u.s": "U.S"}
    assert truecase("who is the biggest owner of mp materials", forms) == "Who is the biggest owner of MP Materials"
    assert truecase("what did china's ministry do?", forms) == "What did China's ministry do?"
    assert truecase("WHAT DID THE U.S. DO", forms) == "What did the U.S. do"
    # Capitals of the user's own: taken as typed ("us" stays a pronoun).
    assert truecase("Tell us what China and mp did", forms) == "Tell us what China and mp did"
    assert truecase("2025 exports?", forms) == "2025 exports?"


def test_the_bm25_index_keeps_the_names_it_read_across_a_save(tmp_path):
    from assistant.store.lexical import LexicalIndex

    built = LexicalIndex.build(["a", "b"], ["Exports fell, MP Materials said.", "Shares of MP Materials rose."])
    assert built.case_forms["mp"] == "MP"
    built.save(tmp_path / "lexical", "1:2")
    assert LexicalIndex.load(tmp_path / "lexical", "1:2").case_forms == built.case_forms
    (tmp_path / "lexical" / "case.json").unlink()  # saved by a version that did not count names
    assert LexicalIndex.load(tmp_path / "lexical", "1:2") is None  # rebuilt, not read without them


def test_the_understand_stage_restores_a_lower_case_questions_names():
    from assistant.answering.questions import understand_question

    understood = understand_question("who runs mp materials", [], 2000, case_forms={"mp": "MP"})
    assert understood.asked == understood.query == "Who runs MP materials"
