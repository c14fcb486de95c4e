"""Vocabularies of free-text fields that rules compare with words: normalised at load.

A profile may say ``"Spanish"``, ``" spanish "`` or ``"Español"``; a rule compares
``item in ['spanish']``. Rather than make every rule list every spelling, the loader keeps such
values in one canonical form (lower case, single spaces, known aliases mapped to their word),
and ``smartpick-rules check`` warns when a rule compares one of these fields with a word that is
not in canonical form or not in the vocabulary (with a "did you mean"). Values outside the
vocabulary are still accepted: the lists say what rules can rely on, they do not limit
applicants.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import attrs

from ..records import frozen

__all__ = ["LANGUAGES", "PROGRAM_TAGS", "VOCABULARIES", "Vocabulary", "normalise_languages", "normalise_tags"]

_SPACES = re.compile(r"\s+")


@frozen
class Vocabulary:
    """The known words of one free-text field, and how any value is put in canonical form."""

    title: str
    label: str
    anchor: str
    doc: str
    words: tuple[str, ...]
    aliases: dict[str, str] = attrs.field(factory=dict)
    #: "_" joins words (tags: `safety_net`); " " keeps them apart (languages: `haitian creole`)
    joiner: str = " "
    #: a closed vocabulary warns on any word outside it; an open one only on a near miss
    closed: bool = True

    def normalise(self, value: str) -> str:
        """The canonical form of ``value``: NFC, trimmed, lower case, runs of spaces as one ``joiner``."""
        text = unicodedata.normalize("NFC", value).strip().casefold()
        text = _SPACES.sub(" ", text)
        if self.joiner != " ":
            text = re.sub(r"[\s-]+", self.joiner, text)
        return self.aliases.get(text, text)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self._set

    @property
    def _set(self) -> frozenset[str]:
        return frozenset(self.words)


_LANGUAGE_WORDS = """
afrikaans albanian amharic arabic armenian assamese azerbaijani basque belarusian bengali bosnian
bulgarian burmese cantonese catalan cebuano chinese croatian czech danish dari dutch english
estonian ewe farsi fijian filipino finnish french fulani ga georgian german greek gujarati
haitian creole hakka hausa hebrew hindi hmong hungarian icelandic igbo ilocano indonesian irish
italian japanese javanese kannada kazakh khmer kinyarwanda korean kurdish kyrgyz lao latvian
lingala lithuanian luganda macedonian malagasy malay malayalam maltese mandarin maori marathi
marshallese mixtec mongolian navajo nepali norwegian oromo pashto persian polish portuguese punjabi
quechua romanian russian samoan serbian shona sign language sindhi sinhala slovak slovenian somali
spanish swahili swedish tagalog taiwanese tajik tamil tatar telugu thai tibetan tigrinya toishanese
tongan turkish turkmen twi ukrainian urdu uyghur uzbek vietnamese visayan welsh wolof xhosa yiddish
yoruba zapotec zulu american sign language
"""


def _language_words() -> tuple[str, ...]:
    # multi-word names are written with spaces; split the list on the known ones first
    multi = ["american sign language", "haitian creole", "sign language"]
    text = " ".join(_LANGUAGE_WORDS.split())
    words: list[str] = []
    for m in multi:
        if m in text:
            words.append(m)
            text = text.replace(m, " ")
    words += text.split()
    return tuple(sorted(set(words)))


#: Languages, as English names in lower case.
LANGUAGES = Vocabulary(
    title="Languages",
    label="language names in English, in lower case",
    anchor="languages",
    doc="`applicant.languages` is kept in lower case, with these names in their own language (and a few "
    "other spellings) mapped to the English name. A language not listed is kept as written, in lower case.",
    words=_language_words(),
    aliases={
        "español": "spanish",
        "espanol": "spanish",
        "castellano": "spanish",
        "français": "french",
        "francais": "french",
        "deutsch": "german",
        "português": "portuguese",
        "portugues": "portuguese",
        "italiano": "italian",
        "русский": "russian",
        "한국어": "korean",
        "中文": "chinese",
        "普通话": "mandarin",
        "廣東話": "cantonese",
        "粵語": "cantonese",
        "tiếng việt": "vietnamese",
        "日本語": "japanese",
        "हिन्दी": "hindi",
        "العربية": "arabic",
        "فارسی": "farsi",
        "հայերեն": "armenian",
        "mandarin chinese": "mandarin",
        "chinese mandarin": "mandarin",
        "asl": "american sign language",
        "pilipino": "filipino",
        "kreyòl": "haitian creole",
    },
)

#: Program tags the shipped rule sets read and the sample catalog uses.
PROGRAM_TAGS = Vocabulary(
    title="Program tags",
    label="tags in lower case with underscores",
    anchor="program-tags",
    doc="`program.tags` are kept in lower case, with spaces and hyphens as underscores (`Safety Net` is "
    "`safety_net`). The shipped rule sets read these tags; a catalog may carry others, which rules can read too.",
    words=(
        "academic_flagship",
        "fqhc",
        "img_friendly",
        "rural",
        "safety_net",
        "spanish_speaking_population",
        "teaching_health_center",
        "underserved_focus",
    ),
    joiner="_",
    closed=False,
)

#: (model class name, field name) -> its vocabulary. Rules read them as applicant.languages, program.tags.
VOCABULARIES: dict[tuple[str, str], Vocabulary] = {
    ("Profile", "languages"): LANGUAGES,
    ("Program", "tags"): PROGRAM_TAGS,
}


def _normalise_all(vocab: Vocabulary, values: Iterable[object]) -> tuple[object, ...]:
    out: list[object] = []
    for v in values:
        w = vocab.normalise(v) if isinstance(v, str) else v
        if w not in out:
            out.append(w)  # "Spanish" and "spanish" are one language
    return tuple(out)


def normalise_languages(values: Iterable[object]) -> tuple[str, ...]:
    """The attrs converter of ``Profile.languages``."""
    if isinstance(values, str):
        return values  # type: ignore[return-value]  # refused by the converter's list check
    return _normalise_all(LANGUAGES, values)  # type: ignore[return-value]


def normalise_tags(values: Iterable[object]) -> tuple[str, ...]:
    """The attrs converter of ``Program.tags``."""
    if isinstance(values, str):
        return values  # type: ignore[return-value]
    return _normalise_all(PROGRAM_TAGS, values)  # type: ignore[return-value]
