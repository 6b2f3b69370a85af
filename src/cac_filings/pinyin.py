"""Pinyin of company names, for searching without Chinese input.

Uses pypinyin's dictionaries with greedy longest-phrase matching, so that 重庆 reads chong qing
and 银行 yin hang. Calling pypinyin itself per name is about ten times slower; a build computes
pinyin for thousands of names.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

_MAX_PHRASE = 6
# The lengths (2 to _MAX_PHRASE, longest first) of the phrases that start with each pair of
# characters: only those are looked up (most pairs begin one phrase, or none).
_starts: dict[str, set[int]] = {}
for _phrase in PHRASES_DICT:
    if 2 <= len(_phrase) <= _MAX_PHRASE:
        _starts.setdefault(_phrase[:2], set()).add(len(_phrase))
_LENGTHS = {pair: tuple(sorted(lengths, reverse=True)) for pair, lengths in _starts.items()}
del _starts
_TONES = str.maketrans({
    **dict.fromkeys("āáǎà", "a"), **dict.fromkeys("ēéěèê", "e"), **dict.fromkeys("īíǐì", "i"),
    **dict.fromkeys("ōóǒò", "o"), **dict.fromkeys("ūúǔù", "u"), **dict.fromkeys("ǖǘǚǜü", "v"),
    **dict.fromkeys("ńňǹ", "n"), **dict.fromkeys("ḿ", "m"), "\u0304": None, "\u030c": None,
})
# A phrase's or a character's reading, toneless, syllables joined by spaces (filled as met:
# company names repeat the same few dozen words).
_READINGS: dict[str, str] = {}


def _toneless(syllable: str) -> str:
    return syllable.translate(_TONES).lower()


def _syllables(text: str) -> list[str]:
    """Readings of `text` left to right, toneless: the longest phrase at each character, else
    the character's first reading; a run of characters without one gives its letters and
    digits as one word."""
    out: list[str] = []
    readings = _READINGS
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ord(ch) not in PINYIN_DICT:
            j = i + 1
            while j < n and ord(text[j]) not in PINYIN_DICT:
                j += 1
            chunk = "".join(c for c in text[i:j] if c.isalnum())
            if chunk:
                out.append(_toneless(chunk))
            i = j
            continue
        for length in _LENGTHS.get(text[i:i + 2], ()):
            if length > n - i:
                continue
            chars = text[i:i + length]
            found = readings.get(chars)
            if found is None:
                phrase = PHRASES_DICT.get(chars)
                if phrase is None:
                    continue
                found = readings[chars] = " ".join(_toneless(r[0]) for r in phrase)
            out.append(found)
            i += length
            break
        else:
            found = readings.get(ch)
            if found is None:
                found = readings[ch] = _toneless(PINYIN_DICT[ord(ch)].split(",", 1)[0])
            out.append(found)
            i += 1
    return out


@lru_cache(maxsize=65536)
def to_pinyin(text: str) -> str:
    """'北京字节跳动科技有限公司' → 'bei jing zi jie tiao dong ke ji you xian gong si'."""
    return " ".join(_syllables(text))


# Every toneless syllable pypinyin knows (about 400): for reading a query such as "baidu".
SYLLABLES: frozenset[str] = frozenset(
    reading.translate(_TONES).lower() for readings in PINYIN_DICT.values()
    for reading in readings.split(",") if reading.isalpha())
_LONGEST_SYLLABLE = max(map(len, SYLLABLES))


def split_pinyin(word: str) -> list[str] | None:
    """'baidu' → ['bai', 'du'], 'xian' → ['xian']; None when the word is not pinyin.

    The fewest syllables, and among splits with as few, the one with the longest first
    syllable, then the longest second, and so on: 'youxiangongsi' → you xian gong si (not you
    xiang o ng si), 'xian' → xian (not xi an). Iterative and linear in the word's length:
    counts[i] is the fewest syllables that spell word[i:], filled from the end.
    """
    word = word.lower()
    if not word.isascii() or not word.isalpha():
        return None
    n = len(word)
    unreachable = n + 1
    counts = [unreachable] * (n + 1)
    steps = [0] * (n + 1)
    counts[n] = 0
    for i in range(n - 1, -1, -1):
        # Longest first, and only a strictly better count replaces: ties keep the longest.
        for length in range(min(_LONGEST_SYLLABLE, n - i), 0, -1):
            if counts[i + length] + 1 < counts[i] and word[i:i + length] in SYLLABLES:
                counts[i] = counts[i + length] + 1
                steps[i] = length
    if counts[0] == unreachable:
        return None
    out: list[str] = []
    i = 0
    while i < n:
        out.append(word[i:i + steps[i]])
        i += steps[i]
    return out


_TONED = re.compile(r"([a-z]+)[0-5]?")
# Each run of letters but the last ends in a tone number: no two ways to match, no backtracking.
_TONED_WORD = re.compile(r"(?:[a-z]+[0-5])+[a-z]*")


def read_pinyin(word: str) -> list[str] | None:
    """The syllables of a word typed as pinyin, however it was typed: any case (BaiDu), tone
    marks (bǎidù), tone numbers (bai3du4), ü or v (nü, nv, lv). None when it is not pinyin."""
    plain = unicodedata.normalize("NFC", word).lower().translate(_TONES)
    plain = "".join(c for c in unicodedata.normalize("NFD", plain) if not unicodedata.combining(c))
    if not plain.isascii():
        return None
    if plain.isalpha():
        return split_pinyin(plain)
    if not _TONED_WORD.fullmatch(plain):
        return None
    syllables: list[str] = []
    for chunk in _TONED.findall(plain):
        found = split_pinyin(chunk)
        if found is None:
            return None
        syllables.extend(found)
    return syllables
