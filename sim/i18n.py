"""Languages of the reports: the gettext catalogs, digits and number formats.

The words of the pages live in ``sim/locale/<lang>/LC_MESSAGES/messages.po`` (extracted from the
templates, ``sim/report.py`` and ``sim/plots.py`` into ``sim/locale/messages.pot`` with Babel; see
``sim/locale/README.md``). The ``.po`` files are read at run time with Babel, so a plain
``pip install .`` needs no compile step. English is the source language: it has no catalog.

Digits: ``western`` (0-9) or ``arabic`` (Arabic-Indic, with the Arabic decimal, thousands and percent
signs). The default is Western digits in both languages: the source documents, Arabic policy
papers, write their numbers with Western digits.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = {"en": "ltr", "ar": "rtl"}
DIGITS = ("western", "arabic")
DEFAULT_DIGITS = "western"

ARABIC_DIGITS = str.maketrans({**{str(d): chr(0x0660 + d) for d in range(10)},
                               ".": "\u066b", ",": "\u066c", "%": "\u066a"})
WESTERN_DIGITS = {v: k for k, v in ((str(d), chr(0x0660 + d)) for d in range(10))}
WESTERN_DIGITS.update({"\u066b": ".", "\u066c": ",", "\u066a": "%"})


LRI, PDI = "\u2066", "\u2069"
_PERCENT_IN_MESSAGE = re.compile(r"(?<![A-Za-z_0-9.%(])\d+(?:\.\d+)?(?:-\d+)?(?:%%|%(?!\())")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?")
_MESSAGE_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])(?<![A-Za-z]-)\d+(?:\.\d+)?(?:%%|%(?!\())?")


def _arabic_numbers_in_message(message: str) -> str:
    """Arabic-Indic digits for the numbers written in a catalog message ('95%%' -> '٩٥٪'), leaving its
    placeholders ('%(n)s') and symbols with digits ('S1', 'SHA-256', 'S(m-1)') alone."""
    def convert(m):
        text = m.group(0)
        if text.endswith("%%"):
            text = text[:-2] + "%"
        return text.translate(ARABIC_DIGITS)
    return _MESSAGE_NUMBER.sub(convert, message)


def to_western(text: str) -> str:
    """Undo :data:`ARABIC_DIGITS` (for tests and for readers' tools)."""
    return "".join(WESTERN_DIGITS.get(ch, ch) for ch in text)


# --- number formats: the text a number shows, before digits are localised ------------------------

FORMATS: dict[str, Callable[[float], str]] = {
    "pct": lambda x: f"{100 * x:.1f}%",          # a probability or share
    "pct0": lambda x: f"{100 * x:.0f}%",         # a share in a sentence, rounded
    "pp": lambda x: f"{100 * x:+.1f}",           # a difference of probabilities, in percentage points
    "months": lambda x: f"{x:.1f}",              # a duration in months
    "num1": lambda x: f"{x:.1f}",                # any other number, one decimal
    "signed": lambda x: f"{x:+.2f}",             # a signed difference in months
    "index": lambda x: f"{x:.3f}",               # a sensitivity index or score
    "index2": lambda x: f"{x:.2f}",              # an index in a sentence
    "p": lambda x: f"{x:.3g}",                   # a p-value
    "int": lambda x: f"{int(x):,}",              # a count
    "g": lambda x: f"{x:g}",                     # a setting as written
    "g4": lambda x: f"{x:.4g}",                  # a fitted value
    "str": str,                                  # digits written out already (a date, a year)
}


class UnknownLanguage(ValueError):
    pass


@lru_cache(maxsize=None)
def _translations(lang: str):
    from babel.support import NullTranslations, Translations
    if lang == "en":
        return NullTranslations()
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        raise UnknownLanguage(f"no catalog for language '{lang}' ({path})")
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    with open(path, "rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


@dataclass(frozen=True)
class Lang:
    """One language and digit style: translated words and localised numbers."""

    code: str = "en"
    digits: str = DEFAULT_DIGITS

    def __post_init__(self):
        if self.code not in LANGUAGES:
            raise UnknownLanguage(f"unknown language '{self.code}' (choose from {', '.join(LANGUAGES)})")
        if self.digits not in DIGITS:
            raise UnknownLanguage(f"unknown digits '{self.digits}' (choose western or arabic)")

    @property
    def dir(self) -> str:
        return LANGUAGES[self.code]

    @property
    def rtl(self) -> bool:
        return self.dir == "rtl"

    @property
    def translations(self):
        return _translations(self.code)

    # gettext, under the names Babel extracts; the numbers a message writes out take the page's digits
    def _localised(self, text: str) -> str:
        if self.rtl:   # a number written in a right-to-left message keeps its % sign: a left-to-right isolate
            text = _PERCENT_IN_MESSAGE.sub(lambda m: LRI + m.group(0) + PDI, text)
        return _arabic_numbers_in_message(text) if self.digits == "arabic" else text

    def _(self, message: str) -> str:
        return self._localised(self.translations.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._localised(self.translations.ngettext(singular, plural, n))

    def pgettext(self, context: str, message: str) -> str:
        return self._localised(self.translations.pgettext(context, message))

    def digits_of(self, text: str) -> str:
        """The numbers in ``text`` in the page's digits ('12.5%' -> '١٢٫٥٪'); other dots and signs stay."""
        if self.digits != "arabic":
            return text
        return _NUMBER.sub(lambda m: m.group(0).translate(ARABIC_DIGITS), text)

    def fmt(self, value: Any, kind: str) -> str:
        """A number as the page shows it ('n/a' for a missing one)."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return self._("n/a")
        return self.digits_of(FORMATS[kind](value))


def N_(message: str) -> str:
    """Mark a string for extraction; translated where it is used."""
    return message


def pN_(context: str, message: str) -> str:
    """Mark a string with a context for extraction (translated with ``pgettext`` where it is used)."""
    return message
