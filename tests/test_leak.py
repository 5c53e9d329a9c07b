"""Identity-leak detection."""

from __future__ import annotations

from arena.leak import HIDDEN, LeakDetector, expand_terms

DETECTOR = LeakDetector(["Starling-LM-7B-alpha", "starling-lm-7b-alpha", "Nexusflow", "Zephyr-7B-beta", "Hugging Face"])


def test_name_parts_are_terms() -> None:
    """A model's distinctive name part is a term; generic parts are not."""
    terms = {t.lower() for t in expand_terms(["Starling-LM-7B-alpha", "Mistral-7B-Instruct"])}
    assert "starling" in terms and "mistral" in terms
    assert "alpha" not in terms and "instruct" not in terms


def test_self_identification_is_flagged() -> None:
    """'I am Starling' in an answer is a leak."""
    findings = DETECTOR.check({"a": "Hello! I am Starling, trained by Nexusflow.", "b": "Hi."}, ["who are you?"])
    assert {(f.side, f.term) for f in findings} == {("a", "starling"), ("a", "nexusflow")}


def test_other_models_and_well_known_names_are_flagged() -> None:
    """Naming another configured model or a famous assistant is flagged too."""
    findings = DETECTOR.check({"a": "As ChatGPT, I think", "b": "Zephyr here"}, ["hi"])
    assert {f.side for f in findings} == {"a", "b"}


def test_terms_the_user_asked_about_are_not_leaks() -> None:
    """When the prompt mentions a name, an answer using it is not a leak."""
    assert DETECTOR.check({"a": "Zephyr is a west wind."}, ["What does zephyr mean?"]) == []


def test_whole_words_only() -> None:
    """Substrings inside other words do not match."""
    assert DETECTOR.find("The starlings flew over Zephyrhills.") == set()


def test_case_insensitive() -> None:
    """Matching ignores case."""
    assert DETECTOR.find("i'm STARLING-LM-7B-ALPHA") >= {"starling-lm-7b-alpha"}


def test_clean_answers_pass() -> None:
    """Ordinary answers are not flagged."""
    assert DETECTOR.check({"a": "Paris is the capital of France.", "b": "It is Paris."}, ["capital of France?"]) == []


def test_mask_hides_configured_identities_but_not_what_the_user_asked_about() -> None:
    masker = LeakDetector(["Starling-LM-7B-alpha", "Nexusflow"], well_known=False)
    text = "I am Starling-LM-7B-alpha (Starling for short), made by nexusflow. Like ChatGPT, I can help."
    masked = masker.mask(text)
    assert "Starling" not in masked and "nexusflow" not in masked.lower()
    assert masked.count(HIDDEN) == 3 and "ChatGPT" in masked  # famous names are no identity of ours
    assert "Nexusflow" in masker.mask("Nexusflow makes me.", ["Tell me about Nexusflow"])  # the user asked
    assert masker.mask("Starlings are birds.") == "Starlings are birds."  # whole words only
