"""The data's words in each language (one table) and the messages that keep their id and parameters."""

import copy
import pickle
from datetime import datetime

import pytest

from bionicflow.demo.data import MUSCLE_GROUPS, PROSTHESIS_TYPES
from bionicflow.reports.accounts import ROLES
from bionicflow.reports.texts import Text, TranslatableError, text_of
from bionicflow.reports.words import CATEGORIES, category_label


@pytest.mark.parametrize("kind, values", [("prosthesis_type", PROSTHESIS_TYPES), ("muscle_group", MUSCLE_GROUPS),
                                          ("gender", ("female", "male", "other")), ("role", tuple(ROLES))])
def test_every_value_the_data_holds_has_a_russian_word(kind, values):
    """What the demo generator writes (and the roles tokens carry) is in the table, in Cyrillic."""
    for value in values:
        label = category_label(kind, value, "ru")
        assert label != value and any("а" <= ch <= "я" for ch in label.lower()), (kind, value, label)


def test_known_words_unknown_values_and_languages():
    assert category_label("muscle_group", "forearm_flexors", "ru") == "сгибатели предплечья"
    assert category_label("muscle_group", "forearm_flexors", "en") == "forearm flexors"
    assert category_label("prosthesis_type", "arm", "en") == "arm"
    assert category_label("prosthesis_type", "exoskeleton", "ru") == "exoskeleton"  # unknown: as it is
    assert category_label("gender", "", "ru") == ""
    assert category_label("gender", "other", "de") == "other"  # no such language: as it is
    with pytest.raises(ValueError, match="unknown category kind 'colour'"):
        category_label("colour", "red", "ru")


def test_the_table_has_both_languages_for_every_word():
    assert all(set(labels) == {"en", "ru"} for words in CATEGORIES.values() for labels in words.values())


def test_a_text_is_its_english_and_keeps_its_id_and_parameters():
    text = Text("from %(start)s, %(value)r", start=datetime(2026, 11, 1, 12), value="x")
    assert text == "from 2026-11-01T12:00:00, 'x'" and isinstance(text, str)
    assert (text.template, text.params["value"]) == ("from %(start)s, %(value)r", "x")
    for kept in (copy.deepcopy(text), pickle.loads(pickle.dumps(text))):
        assert kept == text and kept.template == text.template and kept.params == text.params
    assert Text("100% sure") == "100% sure"  # no parameters: no formatting


def test_an_errors_text_is_what_its_str_says():
    error = TranslatableError("user %(user)s", user="u1")
    assert str(error) == "user u1" and text_of(error).template == "user %(user)s"
    assert text_of(ValueError("plain")) == "plain" and text_of("given") == "given"
