"""Phrase matching for ticket text (pure): case and accent folding, lemmas (simplemma's English
dictionary: "arrived", "arrives" → "arrive"; "boxes" → "box"), tolerance for one-letter typos
in longer words, word boundaries, and negation ("not damaged, just late" does not mention
damage)."""

from __future__ import annotations

import re
import string
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from itertools import compress, count, repeat
from operator import not_
from typing import Any, NamedTuple

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from deskbridge.workflows.lexicon import LANGUAGES, get_lexicon

# Words that negate what follows them, up to NEGATION_WINDOW words on and not across a
# SCOPE_BREAK word ("it has not come and I want a refund" still asks for a refund).
NEGATORS = frozenset(
    {"not", "no", "never", "without", "nothing", "nor", "neither", "none"}
    # The same in the languages customers write in (German, French, Spanish, Italian, Dutch):
    # "keine Rückerstattung nötig", "pas de remboursement", "geen terugbetaling".
    | {"nicht", "kein", "keine", "keinen", "nie", "pas", "aucun", "aucune", "jamais", "nunca"}
    | {"ningun", "ninguna", "niet", "geen", "nooit"}
    # Not Italian "non" ("non-slip" is English) nor "mai" (German for May).
)
NEGATION_WINDOW = 4
# "I don't want to cancel or get a refund": a negated wish negates what is wished for, further
# on (still not across a SCOPE_BREAK word or a clause break).
WISH_NEGATION_WINDOW = 8
# "I'm not after a refund", "I'm not looking for a replacement" (British "after", "look for",
# "seek": want) wish as "want" does.
_WISHES = frozenset({"want", "need", "wish", "ask", "expect", "after", "look", "seek"})
# "I don't want to send it back or get money off", "neither a refund nor a voucher": a negation
# that reaches an "or" reaches the next item of the list, NEGATION_WINDOW words past it.
_ALTERNATIVES = frozenset({"or", "nor"})
SCOPE_BREAKS = frozenset({"and", "so", "just", "then", "because", "instead", "only"})
# A negation after the phrase: "refund not needed", "a replacement is not necessary",
# "compensation? no need", "a voucher is no use to me" (across the clause break: "." is
# BREAK). "needed" is "need".
_NEGATED_AFTER = frozenset({"need", "necessary", "require", "required", "want", "wanted", "use"})
_BEFORE_NEGATION_AFTER = frozenset({"be", "is", "was", "are", "s", "really", "do", "."})
# The same in German, French, Spanish and Dutch (a bilingual dictionary's "not necessary",
# "I don't need"): "Erstattung ist nicht nötig", "remboursement n'est pas nécessaire", "reembolso
# no es necesario", "terugbetaling is niet nodig"; and German's verb before the negator: "eine
# Erstattung brauche ich nicht" (a refund I do not need).
_FOREIGN_NEGATORS_AFTER = frozenset({"nicht", "pas", "no", "niet"})
_FOREIGN_NEGATED_AFTER = frozenset(
    {"notig", "notwendig", "erforderlich", "necessaire", "necesario", "nodig"}
)
_FOREIGN_BEFORE_NEGATION_AFTER = frozenset({"ist", "n", "est", "es", "is", "wirklich", "vraiment"})
_FOREIGN_NEEDS_BEFORE = frozenset({"brauche", "brauchen", "benotige", "benotigen"})
# The same with a verb of wanting (a bilingual dictionary's "I don't want"), in German and
# Dutch: "eine Erstattung möchte ich nicht", "een terugbetaling wil ik niet".
_FOREIGN_NEEDS_BEFORE |= {"mochte", "mochten", "will", "wollen", "wil", "willen", "hoef"}
_FOREIGN_PRONOUNS = frozenset({"ich", "wir", "ik", "wij", "we"})
_SPANISH_NOT_NEEDED = frozenset({("es", "necesario"), ("hace", "falta"), ("lo", "necesito")})
# Words that make what follows hypothetical ("if it is not here by Friday I want a refund"
# does not ask for a refund yet), in their clause and, when they open it, in the next one
# ("if it is lost, send a replacement"); not when they make a request polite ("if you could").
CONDITIONALS = frozenset({"if", "unless", "otherwise", "whether"})
# "if" and "unless" make their whole clause hypothetical, before them too ("I want a refund if
# it is not here by Friday"); "otherwise" and "whether" only what follows them.
WHOLE_CLAUSE_CONDITIONALS = frozenset({"if", "unless"})
POLITE_AFTER_CONDITIONAL = frozenset({"you", "possible", "we", "poss", "that", "ok", "okay"})
# Typos are corrected only in words at least this long: short words have too many neighbours.
MIN_TYPO_LENGTH = 5

# Lemmas that would merge words a ticket means differently ("later" is not "late", "worse"
# is not "wrong"); the dictionary is otherwise taken as it is.
_LEMMA_EXCEPTIONS = {
    "later": "later",
    "latest": "latest",
    "worse": "worse",
    "worst": "worst",
    "better": "better",
    "best": "best",
    "gone": "go",
    "suing": "suing",  # not the name Sue
    "stuck": "stuck",  # a parcel is stuck in transit; a drawer sticks
    "took": "took",  # "the driver took it back" is no request to "take it back"
    # "it did not come" is late; "hope it does not come to that", "it does not come with
    # screws" are not.
    "did": "did",
    # A throw is a blanket the shop sells ("Throw pilling after one wash"); "thrown" is a parcel
    # handled roughly.
    "thrown": "thrown",
    # A veneer lifting or starting to lift is a finish flaw; "we lifted it out of the box" is
    # someone lifting it.
    "lifted": "lifted",
}

_APOSTROPHES = ("\u2019", "\u2018", "`", "\u00b4")
# Every combining mark (an accent apart from its letter) lies above U+02FF and outside the
# general punctuation and currency blocks (U+2000 to U+20CF: dashes, curly quotes, "…", "€"): a
# text with no other character beyond ASCII has no mark to drop.
_MAY_COMBINE = re.compile(r"[^\x00-\u02ff\u2000-\u20cf]")
# Negative contractions: "can't", "won't", then any "n't"; without the apostrophe ("hasnt",
# "didnt", "cant") they are expanded word by word in tokenize.
_CONTRACTIONS = (("can't", "can not"), ("won't", "will not"), ("n't", " not"))
# Contracted auxiliaries that say one thing only ("when it'll arrive" is "when it will
# arrive", "I've had nothing" is "I have had nothing"); not "'s" (is, has or a possessive) nor
# "'d" (would or had).
_AUXILIARIES = (("'ll ", " will "), ("'ve ", " have "), ("'re ", " are "), ("i'm ", "i am "))
_BARE_NEGATIVES = {
    f"{verb}nt": (verb, "not")
    for verb in (
        "has",
        "have",
        "had",
        "did",
        "does",
        "do",
        "is",
        "was",
        "were",
        "are",
        "could",
        "would",
        "should",
        "ca",
        "wo",
    )
}
_BARE_NEGATIVES |= {"cant": ("can", "not"), "wont": ("will", "not")}
# Their words as a frozenset: its isdisjoint with a list of words costs less than a dict's keys'.
_BARE_NEGATIVE_WORDS = frozenset(_BARE_NEGATIVES)
# The words tokenize's steps after splitting look for: bare negatives, "even", "actually".
_TOKENIZE_WORDS = _BARE_NEGATIVE_WORDS | {"even", "actually"}
# Clause breaks: punctuation, line breaks and before contrast words ("not damaged, but
# late"). In a token sequence a clause break is the token BREAK (not a space: str.split would
# drop it), which a phrase contains only before a contrast word of its own.
BREAK = "."
_SPACED_BREAK = f" {BREAK} "
_BREAK_CHARACTERS = ".;:!?,()[]\n"
_CONTRAST_WORDS = frozenset({"but", "however", "although", "though"})
# Everything that is not a letter or a digit separates words.
_NOT_WORD = str.maketrans(
    {chr(c): " " for c in range(128) if not chr(c).isalnum() and chr(c) != "\n"}
)
# Text (ASCII): clause punctuation becomes BREAK, every other non-word character a space; one
# character for one, so str.translate takes its fast path.
_TEXT_TABLE = str.maketrans(
    {
        chr(c): BREAK if chr(c) in _BREAK_CHARACTERS else " "
        for c in range(128)
        if not chr(c).isalnum()
    }
)
# _TEXT_TABLE for bytes, and BREAK spaced: a text is ASCII by the time tokenize translates it,
# and bytes.translate reads one entry of a table a character where str.translate looks each
# character up (about a third of the instructions).
_TEXT_BYTES = bytes(ord(_TEXT_TABLE.get(c, chr(c))) for c in range(256))
_BREAK_BYTES, _SPACED_BREAK_BYTES = BREAK.encode(), _SPACED_BREAK.encode()
# Bytes: every character but a-z, 0-9 and clause punctuation a space, and "?" too (see
# _ascii_words: a text whose characters beyond ASCII are encoded as "?").
_KEPT = frozenset(string.ascii_lowercase + string.digits + _BREAK_CHARACTERS) - {"?"}
_NOT_WORD_QUESTION = bytes(c if chr(c) in _KEPT else ord(" ") for c in range(256))
# _NOT_WORD for bytes, for an ASCII clause's words (_words) the same way.
_NOT_WORD_BYTES = bytes(ord(_NOT_WORD.get(c, chr(c))) for c in range(256))
_NEGATION_STOPS = SCOPE_BREAKS | {BREAK}
# The words PhraseIndex._scan finds the places of in a text, in its pass for one-word phrases.
_MARKED = frozenset({BREAK}) | CONDITIONALS | NEGATORS | _ALTERNATIVES
# Outside ASCII: every run of characters that are neither letters, digits nor clause
# punctuation is one space (clause punctuation is left to _TEXT_TABLE).
_NOT_WORD_OR_BREAK = re.compile(f"[^a-z0-9{re.escape(_BREAK_CHARACTERS)}]+")
# The same keeping Greek and Cyrillic letters, to be put in Latin ones (see _LATIN).
_OTHER_SCRIPTS = "\u0370-\u03ff\u0400-\u04ff"
_NOT_WORD_BREAK_OR_SCRIPT = re.compile(f"[^a-z0-9{re.escape(_BREAK_CHARACTERS)}{_OTHER_SCRIPTS}]+")

_WORD = re.compile(r"[a-z0-9]+")
# An amount of money ("£1,299", "€ 35", "$60.50") reads as the word "money": "give me my £1,299
# back" asks for "my money back", as "give me my money back" does.
_AMOUNT = re.compile(r"[£$€] ?\d+(?:[.,]\d+)*")
# The same with the currency's word after the number ("229 euro", "45 pounds", "60 quid"),
# looked for only in a text with one of the words' beginnings.
_AMOUNT_IN_WORDS = re.compile(r"\b\d+(?:[.,]\d+)* ?(?:euros?|eur|pounds?|quid|dollars?|gbp|usd)\b")
# A sum with no currency asked back ("want the 45 back", "give me my 80 back"): the money.
_BARE_AMOUNT_BACK = re.compile(r"\b(the|my|our) \d+(?:[.,]\d+)? back\b")


# Signs of quoted or forwarded email in a text (quotequail is asked only then): plain
# substring tests first, they cost far less than a case-blind regex over every ticket.
_QUOTE_HINTS = (">", "wrote:", "orwarded", "riginal", "rom:", "ORWARDED", "RIGINAL", "ROM:")
_QUOTE_SIGNS = re.compile(
    r"^>|wrote:|forwarded message|original message|^from: ", re.IGNORECASE | re.MULTILINE
)


def own_words(text: str) -> str:
    """The text without the email it quotes or forwards (quotequail): a forwarded order
    confirmation's "returned within 28 days for a refund" is not the customer asking for one.
    All of it when nothing is the writer's own. In a chat transcript with the customer's lines
    labelled, the shop's lines (a bot's menu, an agent's) are left out too."""
    return _customer_lines(split_quoted(text)[0])


# A chat transcript pasted into a ticket labels each line with its speaker ("Bot: For refunds
# or exchanges, type 1", "Customer: the stitching is coming apart"): the bot's menu and the
# agent's offers are the shop's words, as quoted mail is. Looked for only in a text with one
# of the shop's labels (plain substring tests), and only when a line is the customer's.
_SHOP_LABELS = ("Bot:", "Agent:", "Assistant:", "Chatbot:", "Advisor:", "Adviser:")
_SPEAKER = re.compile(
    r"\s*(bot|chatbot|virtual assistant|assistant|agent|advisor|adviser|customer|visitor"
    r"|client|me)\s*:",
    re.IGNORECASE,
)
_CUSTOMER_LABELS = frozenset({"customer", "visitor", "client", "me"})


def _customer_lines(text: str) -> str:
    """The text without the lines of the shop's side of a labelled chat transcript (a line
    without a label goes on with the speaker before it); all of it when no line is labelled
    as the customer's."""
    if "\n" not in text or not any(label in text for label in _SHOP_LABELS):
        return text
    own: list[str] = []
    shop = customer = False
    for line in text.splitlines():
        speaker = _SPEAKER.match(line)
        if speaker is not None:
            shop = speaker.group(1).lower() not in _CUSTOMER_LABELS
            customer = customer or not shop
            line = line[speaker.end() :]
        if not shop:
            own.append(line)
    return "\n".join(own) if customer else text


@lru_cache(maxsize=4096)
def split_quoted(text: str) -> tuple[str, str]:
    """(the writer's own words, the email quoted or forwarded): quotequail's split, and
    lines opening with ">" (plain-text quoting, with or without an "On … wrote:" header) are
    quoted too. All of the text is the writer's own when nothing else is."""
    # Quoted and forwarded email always spans lines; most tickets' words do not need more.
    if (
        "\n" not in text
        or not any(hint in text for hint in _QUOTE_HINTS)
        or not _QUOTE_SIGNS.search(text)
    ):
        return text, ""
    # Imported when a text first quotes email: its 48 regular expressions are compiled on
    # import, which most replays and many days of serve never need.
    import quotequail

    own: list[str] = []
    quoted: list[str] = []
    for mine, part in quotequail.quote(text):
        if not mine:
            quoted.append(part)
            continue
        for line in part.splitlines():
            (quoted if line.lstrip().startswith(">") else own).append(line)
    mine = "\n".join(own)
    # A forward with nothing of the writer's own but its header ("---- Forwarded message
    # ----") is the writer passing on their own words: all of it is theirs.
    if not any(line.strip() and not _FORWARD_HEADER.search(line) for line in own):
        return text, ""
    return mine, "\n".join(quoted)


_FORWARD_HEADER = re.compile(r"^[\s>*_-]*(forwarded message|original message)[\s*_-]*$", re.I)


# How many of a text's last lines may be a signature (a sign-off, a name, a title, a company,
# an address line).
SIGNATURE_LINES = 6
# Words after a sign-off on its own line: "Thanks, Priya", "Cheers Ben".
_NAME_AFTER_SIGN_OFF = 2
# Words of a job title or a company's name under a name.
_TITLE_WORDS = 6


def build_sign_offs(phrases: Sequence[str]) -> frozenset[str]:
    """Sign-off phrases as `without_signature` compares them: folded words."""
    return frozenset(" ".join(words) for p in phrases if (words := _words(fold(p))))


def without_signature(text: str, sign_offs: frozenset[str]) -> str:
    """The text up to its sign-off ("Best regards", "Thanks, Priya", "--"), when one opens a
    line among the last SIGNATURE_LINES and some text comes before it: a job title such as
    "Refunds & Compensation Team" under it is not the customer's request. `sign_offs` are
    folded words joined by single spaces."""
    if "\n" not in text or not sign_offs:
        return text
    return _without_signature(text, sign_offs)


@lru_cache(maxsize=4096)
def _without_signature(text: str, sign_offs: frozenset[str]) -> str:
    lines = text.rstrip().splitlines()
    for at in range(len(lines) - 1, max(0, len(lines) - 1 - SIGNATURE_LINES), -1):
        line = lines[at].strip()
        if line in ("--", "-- ", "—"):
            return "\n".join(lines[:at])
        words = _words(fold(line))
        if not words or len(words) > 3 + _NAME_AFTER_SIGN_OFF:
            continue
        for size in (3, 2, 1):
            if " ".join(words[:size]) in sign_offs and len(words) - size <= _NAME_AFTER_SIGN_OFF:
                mine = "\n".join(lines[:at])
                return mine if mine.strip() else text
    block = _name_block(lines)
    return text if block is None else "\n".join(lines[:block])


def _name_block(lines: list[str]) -> int | None:
    """Where a signature without a sign-off starts: a line that is a name (two or three
    capitalised words, one of them no English word) after a sentence's end or a blank line,
    followed only by short lines that end no sentence (a job title, a company): "Could you
    advise?" / "Martin Kowalczyk" / "Compensation & Benefits Officer"."""
    for at in range(max(1, len(lines) - SIGNATURE_LINES), len(lines) - 1):
        words = lines[at].split()
        if not 2 <= len(words) <= 3 or not all(w[0].isupper() and w.isalpha() for w in words):
            continue
        before = lines[at - 1].rstrip()
        if before and before[-1] not in ".!?":
            continue
        if all(
            len(line.split()) <= _TITLE_WORDS and line.rstrip()[-1:] not in (".", "?", "!")
            for line in lines[at + 1 :]
        ) and not all(is_known_word(fold(w)) for w in words):
            return at
    return None


# Greek and Cyrillic letters in Latin ones (ISO 843's and the common romanisation's, after the
# accents are gone): a ticket in Greek, Bulgarian, Ukrainian or Russian had no word left once
# everything but a-z and digits became a space. The rules file's phrases in those scripts are
# read the same way (to_latin). In a text, tokenize keeps the two scripts' letters when it
# drops other characters, and only a text with some left is translated: no pass of its own.
_OTHER_SCRIPT = re.compile(f"[{_OTHER_SCRIPTS}]")
_LATIN = str.maketrans(
    dict(zip("αβγδεζηικλμνξοπρσςτυφω", "avgdeziiklmnxoprsstyfo", strict=True))
    | {"θ": "th", "χ": "ch", "ψ": "ps"}
    | dict(zip("абвгґдеёзиіїйклмнопрстуфыэ", "abvggdeeziiiiklmnoprstufye", strict=True))
    | {
        "ж": "zh",
        "х": "kh",  # noqa: RUF001 (the Cyrillic letter, not x)
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "a",
        "ь": "",
        "є": "ie",
        "ю": "iu",
        "я": "ia",
    }
)


def to_latin(text: str) -> str:
    """Greek and Cyrillic letters of a folded text in Latin ones (see _LATIN)."""
    if not text.isascii() and _OTHER_SCRIPT.search(text):
        return text.translate(_LATIN)
    return text


def fold(text: str) -> str:
    """Lower-case, strip accents, normalise apostrophes and expand negative contractions."""
    if text.isascii():  # most tickets: "`" is the only apostrophe to map, no accents
        text = text.replace("`", "'")
    else:
        # Plain replaces, not str.translate: outside ASCII it looks every character up.
        for apostrophe in _APOSTROPHES:
            if apostrophe in text:
                text = text.replace(apostrophe, "'")
        text = unicodedata.normalize("NFKD", text)
        if _MAY_COMBINE.search(text):
            text = "".join(compress(text, map(not_, map(unicodedata.combining, text))))
    text = text.lower()
    if "'" in text:  # (many texts have none: no search for "'t")
        if "'t" in text:
            for short, long in _CONTRACTIONS:
                text = text.replace(short, long)
        for short, long in _AUXILIARIES:
            text = text.replace(short, long)
    if "cannot" in text:  # no other word holds it
        text = text.replace("cannot", "can not")
    return text


def _words(clause: str) -> list[str]:
    # Outside ASCII (£, —, ß…) the slower regex keeps only letters and digits.
    if clause.isascii():
        words = clause.encode().translate(_NOT_WORD_BYTES).decode().split()  # see _TEXT_BYTES
    else:
        words = _WORD.findall(clause)
    if not _BARE_NEGATIVE_WORDS.isdisjoint(words):
        words = [part for w in words for part in _BARE_NEGATIVES.get(w, (w,))]
    return words


def lemma(word: str) -> str:
    """The word's dictionary form (simplemma, English), folded; unknown words stay as they are.
    Applied to both text and phrases, so "arrived damaged" matches "arrives damaged"."""
    return _LEMMAS[word]


def _lemmatize(word: str) -> str:
    if len(word) <= 2 or word in NEGATORS or word.isdigit():
        return word
    if word in _LEMMA_EXCEPTIONS:
        return _LEMMA_EXCEPTIONS[word]
    return fold(get_lexicon().lemmatize(word, "en"))


# Words a per-word memo keeps (names and order numbers are endless).
_WORDS_KEPT = 65536


class _Memo(dict):
    """word (or text) → what `compute` makes of it, worked out once per word (bounded: names
    and order numbers are endless). A dict lookup, cheaper than a cached function call per
    word."""

    def __init__(self, compute: Callable[[Any], Any], size: int = _WORDS_KEPT):
        super().__init__()
        self._compute = compute
        self._size = size

    def __missing__(self, word: Any) -> Any:
        value = self._compute(word)
        if len(self) < self._size:
            self[word] = value
        return value


_LEMMAS = _Memo(_lemmatize)
# Words of a text as lemmas (BREAK stays BREAK). Numbers of four digits or more are references
# (order, invoice, tracking numbers, years), not words: "" (dropped), so "order 88213 status"
# reads as "order status".
_TEXT_LEMMAS = _Memo(
    lambda w: BREAK if w == BREAK else "" if len(w) > 3 and w.isdigit() else _LEMMAS[w]
)


_SPACED_CONTRASTS = tuple((word, f" {word} ") for word in sorted(_CONTRAST_WORDS))


def _break_before_contrast(words: list[str]) -> list[str]:
    """A contrast word opens a clause: BREAK before it, in texts and phrases alike, so a
    phrase that starts with one ("but I ordered") or holds one ("delivered but not received")
    matches across it, and nothing else does."""
    if _CONTRAST_WORDS.isdisjoint(words):
        return words
    return [part for w in words for part in ((BREAK, w) if w in _CONTRAST_WORDS else (w,))]


@lru_cache(maxsize=65536)
def is_known_word(word: str) -> bool:
    return get_lexicon().is_known(word, "en")


# The other languages customers write in (lexicon.py's LANGUAGES but English): a word of theirs
# is no typo of an English word ("stoelen", Dutch for chairs, is not "stolen"; "Schrank" is not
# "shrank").
OTHER_LANGUAGES = tuple(language for language in LANGUAGES if language != "en")


@lru_cache(maxsize=65536)
def is_foreign_word(word: str) -> bool:
    lexicon = get_lexicon()
    return any(lexicon.is_known(word, language) for language in OTHER_LANGUAGES)


def is_other_word_of_its_language(word: str, other: str) -> bool:
    """Whether a language knows both words as words of their own, with different lemmas: then
    one is no typo of the other ("envoyer", send, is not "renvoyer", send back); a form of the
    same word still is ("bancale" reads "bancal")."""
    lexicon = get_lexicon()
    return any(
        lexicon.is_known(word, language)
        and lexicon.is_known(other, language)
        and lexicon.lemmatize(word, language) != lexicon.lemmatize(other, language)
        for language in OTHER_LANGUAGES
    )


@lru_cache(maxsize=8192)  # subjects, descriptions and messages are seen again and again
def tokenize(text: str) -> tuple[str, ...]:
    """Text → lemmas, one flat sequence with BREAK between clauses (punctuation, line breaks,
    contrast words): a few C-level passes over the whole text instead of a loop per clause."""
    text = fold(text)
    # Substring tests: an isdisjoint with the text made a string of each of its characters.
    if "$" in text or (not text.isascii() and ("£" in text or "€" in text)):
        text = _AMOUNT.sub(" money ", text)
    if (  # substring tests, no generator: most texts have none of them
        "eur" in text
        or "pound" in text
        or "quid" in text
        or "dollar" in text
        or "gbp" in text
        or "usd" in text
    ):
        text = _AMOUNT_IN_WORDS.sub(" money ", text)
    if " back" in text and _BARE_AMOUNT_BACK.search(text):
        text = _BARE_AMOUNT_BACK.sub(r"\1 money back", text)
    if not text.isascii():  # £, —, ß… separate words, as ASCII punctuation does
        text = _ascii_words(text)
    # ASCII by now: translated as bytes (see _TEXT_BYTES).
    text = text.encode().translate(_TEXT_BYTES).replace(_BREAK_BYTES, _SPACED_BREAK_BYTES).decode()
    # A contrast word opens a clause (see _break_before_contrast), here with C-level replaces.
    for word, spaced in _SPACED_CONTRASTS:
        if word in text:
            text = f" {text} ".replace(spaced, f" {BREAK}{spaced}")
    words = text.split()
    # The words the steps below look for, found in one C-level pass over the words (each
    # step then one set look-up, not a search of the text).
    found = _TOKENIZE_WORDS.intersection(words)
    if not _BARE_NEGATIVE_WORDS.isdisjoint(found):
        words = [part for w in words for part in _BARE_NEGATIVES.get(w, (w,))]
    if "even" in found and _even_after_negator(text):  # most texts have no such "even"
        words = _without_intensifiers(words)
    if "actually" in found:
        # A filler adverb: "when is it actually coming" asks "when is it coming".
        words = [w for w in words if w != "actually"]
    return tuple(filter(None, map(_TEXT_LEMMAS.__getitem__, words)))


def _ascii_words(text: str) -> str:
    """A folded text beyond ASCII (after its amounts are read) in ASCII: every run of
    characters that are neither letters, digits nor clause punctuation one space (clause
    punctuation is left to _TEXT_TABLE), Greek and Cyrillic letters put in Latin ones."""
    if "?" not in text and not _OTHER_SCRIPT.search(text):
        # Each character beyond ASCII a "?" (the text has none of its own) and then a space,
        # as the rest of those runs, and every run of spaces one space: what the regex makes
        # of it, in a fifth of its instructions (a subject with a dash).
        text = text.encode("ascii", "replace").translate(_NOT_WORD_QUESTION).decode()
        while "  " in text:
            text = text.replace("  ", " ")
        return text
    text = _NOT_WORD_BREAK_OR_SCRIPT.sub(" ", text)  # ASCII then, but for Greek or Cyrillic
    if not text.isascii():  # Greek or Cyrillic letters left
        text = _NOT_WORD_OR_BREAK.sub(" ", text.translate(_LATIN))
    return text


def _even_after_negator(text: str) -> bool:
    """Whether an "even" between two words follows a negator, or a bare negative that ends in
    one ("didnt even"): the only "even"s _without_intensifiers drops. `text` is tokenize's by
    the time it splits it (words and BREAKs between spaces), so substring searches find them,
    without a search of the list of words."""
    at = text.find(" even ")
    while at >= 0:
        before = text[:at].rstrip()
        word = before[before.rfind(" ") + 1 :]
        if word in NEGATORS or word in _BARE_NEGATIVES:
            return True
        at = text.find(" even ", at + 1)
    return False


def _without_intensifiers(words: list[str]) -> list[str]:
    """Without "even" right after a negator and before another word of its clause: "it has
    not even shipped" is "it has not shipped", "not even a tracking number" "not a tracking
    number"; "the legs are not even" (level) keeps it. Only the few "even"s are looked at."""
    last = len(words) - 1
    at = -1
    dropped: list[int] = []
    for _ in range(words.count("even")):
        at = words.index("even", at + 1)
        if 0 < at < last and words[at - 1] in NEGATORS and words[at + 1] != BREAK:
            dropped.append(at)
    for at in reversed(dropped):
        del words[at]
    return words


# Room for every phrase of a rules file: routing's synonyms vary the example's lists into
# 7,600 phrases, and building the classifier's indexes compiles each several times (at 4,096
# the cache was thrashed, 20,400 misses where 7,600 are distinct).
@lru_cache(maxsize=16384)
def compile_phrase(phrase: str) -> tuple[str, ...]:
    # The lemmas of its words (BREAK is its own lemma).
    return tuple(map(_LEMMAS.__getitem__, phrase_words(phrase)))


@lru_cache(maxsize=16384)
def phrase_words(phrase: str) -> tuple[str, ...]:
    """A phrase's words as written (folded), and BREAK before a contrast word as in a text
    ("delivered but not received"): `compile_phrase` gives their lemmas."""
    return tuple(_break_before_contrast(_words(to_latin(fold(phrase)))))


class PhraseMatch(NamedTuple):  # a tuple: made by the thousand per second
    phrase: str
    group: str  # what the phrase belongs to (a category, a signal…), as the caller indexed it
    tokens: int
    clause: int
    start: int
    negated_by: str | None = None  # the negating word when the match does not count
    conditional: bool = False  # inside an "if …" clause
    corrected: tuple[str, ...] = ()  # typos read as a phrase word: ("recieved→receive",)

    def overlaps(self, other: PhraseMatch) -> bool:
        return self.clause == other.clause and (
            self.start < other.start + other.tokens and other.start < self.start + self.tokens
        )


# A PhraseMatch from a tuple of its fields without the Python-level __new__ of a NamedTuple.
_new_match = partial(tuple.__new__, PhraseMatch)
# A scan kept: its matches as plain tuples of PhraseMatch's fields. A plain tuple of strings,
# numbers and None is left alone by the garbage collector after its first look, a NamedTuple
# never is: kept as PhraseMatch, the thousands of matches kept made every full collection
# visit them (about a seventh of the classifier's time in classify_speed).
_MatchFields = tuple


# Scans each phrase index keeps (then it starts again): a few thousand open tickets' texts.
SCANS_KEPT = 8192


class PhraseIndex:
    """Many phrases matched in one pass: phrases are indexed by their first lemma, so the text
    is scanned once instead of once per phrase. Words of the text that are not English words
    and are one edit (insertion, deletion, substitution or swap of neighbours) away from a
    phrase word of MIN_TYPO_LENGTH letters or more are read as that word."""

    def __init__(self, groups: tuple[tuple[str, tuple[str, ...]], ...]):
        self.groups = groups
        # One-word phrases by their word, longer ones by their first two words: a text word
        # then meets only the few phrases that can start there. Under a pair, phrases of three
        # words or more sit by length and then by all their words, so a pair shared by many
        # (synonym variants: "where is my order", "… parcel", "… sofa") costs one look-up
        # per length, not one comparison per phrase.
        self._single: dict[str, list[tuple[str, str, tuple[str, ...], bool]]] = {}
        by_pair: dict[tuple[str, ...], dict[int, dict]] = {}
        vocabulary: set[str] = set()
        typo_targets: dict[str, str] = {}  # a phrase word as written or as its lemma → lemma
        seen: set[tuple[str, tuple[str, ...]]] = set()
        # Each word as written once (its lemma is always the same), in the order first met:
        # synonyms' variants repeat most words of the thousands of phrases.
        words_met: set[str] = set()
        for group, phrases in groups:
            for phrase in phrases:
                tokens = compile_phrase(phrase)
                if not tokens or (group, tokens) in seen:
                    continue  # "refunded" after "refund": the same lemmas, found once
                seen.add((group, tokens))
                negative = not NEGATORS.isdisjoint(tokens)
                entry = (group, phrase, tokens, negative)
                if len(tokens) == 1:
                    self._single.setdefault(tokens[0], []).append(entry)
                else:
                    by_length = by_pair.setdefault(tokens[:2], {})
                    by_length.setdefault(len(tokens), {}).setdefault(tokens, []).append(entry)
                vocabulary.update(tokens)
                for word, word_lemma in zip(phrase_words(phrase), tokens, strict=True):
                    if word in words_met:
                        continue
                    words_met.add(word)
                    for form in (word, word_lemma):
                        if len(form) >= MIN_TYPO_LENGTH:
                            typo_targets.setdefault(form, word_lemma)
        # A pair → ((length, phrases), …): the phrases themselves for two words (the pair is
        # all of them), a dict by all their words for longer ones.
        self._by_pair = {
            pair: tuple(
                (size, table[pair] if size == 2 else table)
                for size, table in sorted(by_length.items())
            )
            for pair, by_length in by_pair.items()
        }
        # Where a phrase can start is found in two C-level passes over a text, one by word
        # (one-word phrases: ((1, phrases),)) and one by pair of words (longer phrases: (their
        # phrases by length, third words)); most words and pairs start none. Third words are
        # there for pairs whose phrases all have three words or more: the common pairs of such
        # phrases ("could you", "on the") then cost one set look-up, not a candidate, where the
        # third word is none of theirs.
        self._starts_alone = {word: ((1, entries),) for word, entries in self._single.items()}
        self._marked = _MARKED.union(self._starts_alone)  # see _scan
        self._starts_pair = {
            pair: (
                sized,
                None
                if sized[0][0] == 2
                else frozenset(tokens[2] for _, table in sized for tokens in table),
            )
            for pair, sized in self._by_pair.items()
        }
        self.vocabulary = frozenset(vocabulary)
        self._typo_targets = typo_targets
        # One edit changes the length by at most one: a word of n letters is compared only with
        # the forms of n-1 to n+1 letters (in the same alphabetical order as one list, so the
        # same form wins a tie), and of those only with the ones that begin with its first
        # n // 2 letters or end with its last n - n // 2 - 1 (one edit leaves one of the two
        # as it was), found by bisection in the list and in a sorted list of the forms
        # reversed. rapidfuzz's extractOne over all of them converted some 2,000 strings a
        # new word (0.5 M instructions); a few dozen now.
        self._typo_forms_near: dict[int, list[str]] = {}
        for form in typo_targets:
            for n in (len(form) - 1, len(form), len(form) + 1):
                self._typo_forms_near.setdefault(n, []).append(form)
        for forms in self._typo_forms_near.values():
            forms.sort()
        self._typo_reversed_near = {
            n: sorted(form[::-1] for form in forms) for n, forms in self._typo_forms_near.items()
        }
        # Each text word seen → read_as's reading (bounded): a plain dict, whose look-up costs
        # half a _Memo's (a dict subclass's [] goes through a Python-level slot).
        self._readings: dict[str, str] = {}
        # Words known to read as themselves and to be none of the words _scan marks (nearly
        # all a text's words), each → False: see _scan.
        self._plain: dict[str, bool] = {}
        # Scans of texts already seen: the decider classifies a ticket again on every event,
        # and most events change none of its texts.
        self._scans: dict[tuple[str, ...], tuple[_MatchFields, ...]] = {}

    def forget_words(self) -> None:
        """Clear what was learnt about the words of texts (for benchmarks of a cold start)."""
        self._readings.clear()
        self._plain.clear()
        self._scans.clear()

    def _read_new(self, token: str) -> str:
        """read_as for a word not read before, kept while there is room."""
        word = self.read_as(token)
        if len(self._readings) < _WORDS_KEPT:
            self._readings[token] = word
        return word

    def read_as(self, token: str) -> str:
        """The phrase word a text word stands for: itself, or the vocabulary word it is a typo
        of."""
        if (
            token in self.vocabulary
            or len(token) < MIN_TYPO_LENGTH
            or not token.isalpha()
            or token in NEGATORS  # "keine" is no typo of "meine"
        ):
            return token
        forms = _typo_candidates(
            token, self._typo_forms_near.get(len(token)), self._typo_reversed_near.get(len(token))
        )
        if not forms:
            return token
        # The dictionary look-up last: most words near no phrase word (names, places) skip it.
        best = extractOne(token, forms, scorer=OSA.distance, score_cutoff=1)
        if best is None or is_known_word(token):
            return token
        target = self._typo_targets[best[0]]
        if is_foreign_word(token) and (
            is_known_word(best[0]) or is_other_word_of_its_language(token, best[0])
        ):
            return token
        return target

    def scan(self, tokens: tuple[str, ...]) -> list[PhraseMatch]:
        """Every occurrence of every phrase in a token sequence (see `tokenize`), negated or
        conditional ones included (marked): the one-word phrases in reading order, then the
        longer ones in reading order (by where they start, then by length)."""
        return list(map(_new_match, self.scan_fields(tokens)))

    def scan_fields(self, tokens: tuple[str, ...]) -> tuple[_MatchFields, ...]:
        """`scan` as plain tuples of PhraseMatch's fields, in its order (for callers that
        read them by position)."""
        found = self._scans.get(tokens)
        if found is None:
            if len(self._scans) >= SCANS_KEPT:
                self._scans.clear()
            found = self._scans[tokens] = tuple(self._scan(tokens))
        return found

    def _scan(self, tokens: tuple[str, ...]) -> list[_MatchFields]:
        # Where phrases start (see __init__): one-word phrases by the word, longer ones by the
        # word and the next, each found in a C-level pass (map, compress; zip, not pairwise:
        # zip reuses its pair where pairwise makes one a word). A phrase spans two clauses only
        # across a contrast word of its own ("delivered but not"). A pass over a text's words
        # costs far more than sorting out the few it finds, so the first pass finds every word
        # that is not a known plain one (see _plain): new words, typos read as a phrase word
        # (read_as), one-word phrases' words, clause breaks, conditional words, negators and
        # "or"s (some fifteen phrase words, twenty breaks and a handful of others); one loop
        # reads and sorts them out.
        readings, marked, plain = self._readings, self._marked, self._plain
        alone = self._starts_alone
        read_list: list[str] | None = None  # the tokens as read, when a typo is read otherwise
        fixed: list[int] = []  # where a typo was read as a phrase word (most texts: nowhere)
        starts: list[tuple[int, int, tuple]] = []  # (where, its clause, the phrases)
        breaks: list[int] = []
        conditionals: list[int] = []
        # Negators are rare: only a match with one in the few words before it is looked at.
        negators: list[int] = []
        either = False  # an "or" or "nor"
        for at in compress(count(), map(plain.get, tokens, repeat(True))):
            token = tokens[at]
            if token == BREAK:  # the commonest (it reads as itself and starts no phrase)
                breaks.append(at)
                continue
            try:
                word = readings[token]
            except KeyError:
                word = self._read_new(token)
            if word != token:
                if read_list is None:
                    read_list = list(tokens)
                read_list[at] = word
                fixed.append(at)
            if word not in marked:
                if word == token and len(plain) < _WORDS_KEPT:
                    plain[token] = False  # a new plain word
                continue
            if word in alone:
                starts.append((at, len(breaks), alone[word]))  # (the breaks before it)
            if word in NEGATORS:
                negators.append(at)
            elif word in CONDITIONALS:
                conditionals.append(at)
            if word in _ALTERNATIVES:
                either = True
        read = tokens if read_list is None else tuple(read_list)
        longer: list[tuple[int, int, tuple]] = []
        read_pairs = zip(read, read[1:], strict=False)  # noqa: RUF007 (see above)
        # What each pair starts (None for most), so a pair found is not looked up again.
        by_pair = list(map(self._starts_pair.get, read_pairs))
        last = len(read) - 1  # the last place a pair's next word can be
        for i in compress(count(), by_pair):
            sized, thirds = by_pair[i]  # type: ignore[misc]  # compress: never None
            if thirds is None or (i + 1 < last and read[i + 2] in thirds):
                longer.append((i, bisect_right(breaks, i), sized))
        starts += longer  # one-word phrases first, as they always came
        if not starts:
            return []
        hypothetical = _hypothetical_from(read, breaks, conditionals) if conditionals else None
        declined = _declined_ends(read, negators) if negators else None
        # The places a negator's window reaches (up to WISH_NEGATION_WINDOW words after it):
        # a start there is looked at by _negator, one set look-up a start, not a bisection.
        reached: set[int] = set()
        for at in negators:
            reached.update(range(at + 1, at + 1 + WISH_NEGATION_WINDOW))
        asides = _aside_negations(read, negators) if negators and breaks else None
        # Lists of alternatives after a negator ("not a refund or a voucher"): rare.
        alternatives = bool(negators) and either
        rare = alternatives or bool(asides)
        matches: list[_MatchFields] = []
        for start, clause, found in starts:
            negated_by = None
            if start in reached:  # (empty without negators)
                negated_by = _negator(read, start, negators)
            if rare:  # a list of alternatives or an aside after a negator
                if (
                    alternatives
                    and negated_by is None
                    and (before := bisect_left(negators, start))
                    and negators[before - 1] >= start - 2 * WISH_NEGATION_WINDOW
                    and not _ALTERNATIVES.isdisjoint(read[max(0, start - NEGATION_WINDOW) : start])
                ):
                    negated_by = _negated_alternative(read, start, negators)
                if asides and negated_by is None:
                    negated_by = _negated_past_aside(read, start, asides)
            conditional = hypothetical is not None and start > hypothetical[clause]
            for size, bucket in found:
                if size > 2:
                    bucket = bucket.get(read[start : start + size])
                    if bucket is None:
                        continue
                typos: tuple[str, ...] = ()
                if (  # a typo inside the match: most matches are before or after them all
                    fixed
                    and fixed[-1] >= start
                    and fixed[0] < start + size
                    and fixed[bisect_left(fixed, start)] < start + size
                ):
                    at_typos = [i for i in range(start, start + size) if tokens[i] != read[i]]
                    # A typo read only among words the dictionaries know (see
                    # _among_known_words): looked at for the few typos that make a match.
                    if not all(_among_known_words(tokens, i) for i in at_typos):
                        continue
                    typos = tuple(f"{tokens[i]}→{read[i]}" for i in at_typos)
                # What negates the phrases here that hold no negator themselves.
                negation_here = negated_by or (declined.get(start + size) if declined else None)
                for group, phrase, _, negative in bucket:
                    negation = None if negative else negation_here
                    matches.append(
                        (phrase, group, size, clause, start, negation, conditional, typos)
                    )
        return matches

    def find_threats(self, tokens: tuple[str, ...]) -> dict[str, PhraseMatch]:
        """The first occurrence of every phrase that counts (not negated), the phrases read as
        threats (risk escalation): a negator counts only when it governs the threat itself
        (see _threat_negation_lifted and _negated_with), not merely when it is near it as
        routing reads it. `scan`, which routing uses, is left as it is."""
        matches = self.scan(tokens)
        counted = set(range(len(matches)))
        if not NEGATORS.isdisjoint(tokens):  # most texts have no negator: all of them count
            counted = self._threats_counted(tokens, matches)
        found: dict[str, PhraseMatch] = {}
        for i, match in enumerate(matches):  # the first occurrence, in scan's order
            if i in counted:
                found.setdefault(match.phrase, match)
        return found

    @staticmethod
    def _threats_counted(tokens: tuple[str, ...], matches: list[PhraseMatch]) -> set[int]:
        """Which of a text's matches (by their place in `matches`) count as threats."""
        negators = [at for at, token in enumerate(tokens) if token in NEGATORS]
        declined = _declined_ends(tokens, negators)
        negated: list[tuple[int, int, str]] = []  # (start, end, negator) of negated threats
        # By position (a longer phrase first), so a threat is read after the one it continues.
        ordered = sorted(range(len(matches)), key=lambda i: (matches[i].start, -matches[i].tokens))
        counted: set[int] = set()
        for i in ordered:
            match = matches[i]
            end = match.start + match.tokens
            negation = match.negated_by
            if (
                negation is not None
                and end not in declined  # "a lawyer is not needed" stays declined
                and _threat_negation_lifted(tokens, match.start)
            ):
                negation = None
            if negation is None and negated and NEGATORS.isdisjoint(compile_phrase(match.phrase)):
                negation = _negated_with(tokens, match.start, negated)
            if negation is None:
                counted.add(i)
            else:
                negated.append((match.start, end, negation))
        return counted


# How many words either side of a typo say which language it is written in.
TYPO_CONTEXT = 6


def _among_known_words(tokens: tuple[str, ...], at: int) -> bool:
    """Whether most of the words around tokens[at] are words of the languages the dictionaries
    know: only then is it a typo of a phrase word. In a text in another language (Hungarian,
    Slovak, Slovenian…) a word one edit from a phrase word is a word of its own ("napot", good
    day, is not Dutch "kapot"; "obroke", instalments, not "broke"; "troch", three, not
    Portuguese "troca"). A dict look-up per word around it."""
    around = tokens[max(0, at - TYPO_CONTEXT) : at] + tokens[at + 1 : at + 1 + TYPO_CONTEXT]
    return sum(map(_KNOWN_OR_NOT.__getitem__, around)) >= 0


def _known_or_not(word: str) -> int:
    """+1 for a word the dictionaries know, -1 for one they do not, 0 for a short word, a
    number or BREAK."""
    if len(word) < 3 or not word.isalpha():
        return 0
    return 1 if is_known_word(word) or is_foreign_word(word) else -1


# Per word, worked out once (a dict look-up per word around a typo).
_KNOWN_OR_NOT = _Memo(_known_or_not)


def _hypothetical_from(
    tokens: Sequence[str], breaks: list[int], conditionals: list[int]
) -> list[int]:
    """For each clause (empty ones included, by number), the position after which a match is
    hypothetical: from an "if" on in its clause, and the whole clause after one that opens
    with "if …" ("if it is lost, send a replacement"). `breaks` and `conditionals` are where
    BREAK and the CONDITIONALS are in the tokens."""
    # A clause without a conditional word has its end: no match in it starts after that. Only
    # the few clauses with one are read (a text with an "if" has some twenty clauses).
    ends = [*breaks, len(tokens)]
    thresholds = ends.copy()
    with_conditional = sorted({bisect_right(breaks, at) for at in conditionals})
    carried = -1  # the clause after one that opens with "if …"
    for number in with_conditional:
        start = ends[number - 1] + 1 if number else 0
        clause = tokens[start : ends[number]]
        opens_at = _conditional_start(clause)
        whole = opens_at < len(clause) and clause[opens_at] in WHOLE_CLAUSE_CONDITIONALS
        thresholds[number] = start - 1 if number == carried or whole else start + opens_at
        if len(clause) > 2 and clause[0] in CONDITIONALS and opens_at == 0:
            # The next clause with words (empty ones, as in "?!", are passed over) is
            # hypothetical as a whole.
            after = number + 1
            while after < len(ends) and ends[after] == ends[after - 1] + 1:
                after += 1
            if after < len(ends):
                carried = after
                thresholds[after] = ends[after - 1]  # its start - 1
    return thresholds


def _conditional_start(tokens: Sequence[str]) -> int:
    """Where a hypothetical starts in the clause (its length when it has none)."""
    for i, token in enumerate(tokens):
        if (
            token in CONDITIONALS
            and (
                i + 1 == len(tokens)
                or tokens[i + 1] not in POLITE_AFTER_CONDITIONAL
                # "if you can't find it" is a condition, "if you could" a polite request.
                or any(t in NEGATORS for t in tokens[i + 2 : i + 5])
            )
        ):
            return i
    return len(tokens)


def _declined_ends(tokens: Sequence[str], negators: list[int]) -> dict[int, str]:
    """Where a phrase must end to be declined by what follows it ("refund | not needed",
    "replacement | is not necessary"), with the negator: worked out once per text."""
    ends: dict[int, str] = {}
    for at in negators:
        negator = tokens[at]
        if (
            at > 1
            and tokens[at - 1] in _FOREIGN_PRONOUNS
            and tokens[at - 2] in _FOREIGN_NEEDS_BEFORE
        ):
            ends[at - 2] = negator  # "Erstattung | brauche ich nicht"
            continue
        if at + 1 >= len(tokens):
            continue
        if negator in ("not", "no") and tokens[at + 1] in _NEGATED_AFTER:
            before = _BEFORE_NEGATION_AFTER
        elif (
            negator in _FOREIGN_NEGATORS_AFTER
            and (
                tokens[at + 1] in _FOREIGN_NEGATED_AFTER
                # Spanish puts its negator before the verb: "no es necesario", "no hace falta".
                or (negator == "no" and tuple(tokens[at + 1 : at + 3]) in _SPANISH_NOT_NEEDED)
            )
        ):
            before = _FOREIGN_BEFORE_NEGATION_AFTER
        else:
            continue
        ends[at] = negator
        end = at
        while end > max(0, at - 2) and tokens[end - 1] in before:
            end -= 1
            ends[end] = negator
    return ends


# Auxiliaries a negator ends a clause after when an aside follows it ("I am not, at this
# stage, asking for a refund"; "we do not, for now, want a replacement").
_AUXILIARIES_BEFORE_ASIDE = frozenset(
    lemma(w)
    for w in (
        *("am", "is", "are", "was", "were", "be", "do", "does", "did", "have", "has", "had"),
        *("will", "would", "can", "could", "should", "shall", "may", "must"),
    )
)
# An aside between commas ("at this stage", "for now", "to be clear") has at most this many
# words.
ASIDE_WORDS = 4


def _aside_negations(tokens: Sequence[str], negators: list[int]) -> dict[int, str]:
    """Where a clause starts that a negator before an aside reaches ("I am not, at this
    stage, asking for a refund": "asking" on), with the negator: the negator ends its clause
    after an auxiliary, and a clause of at most ASIDE_WORDS words follows it. Worked out once
    per text, only when it has a negator."""
    found: dict[int, str] = {}
    last = len(tokens) - 1
    for at in negators:
        if not 0 < at < last or tokens[at + 1] != BREAK:
            continue
        if tokens[at - 1] not in _AUXILIARIES_BEFORE_ASIDE:
            continue
        end = at + 2
        while end <= last and tokens[end] != BREAK:
            end += 1
        if 0 < end - at - 2 <= ASIDE_WORDS and end < last:
            found[end + 1] = tokens[at]
    return found


def _negated_past_aside(tokens: Sequence[str], start: int, asides: dict[int, str]) -> str | None:
    """The negator before an aside that reaches tokens[start] (see _aside_negations): as if
    it stood right before the clause after the aside, NEGATION_WINDOW words on (a wish's
    window after a wish), not across a SCOPE_BREAK word."""
    for begin, negator in asides.items():
        if not begin <= start < begin + WISH_NEGATION_WINDOW:
            continue
        if not _NEGATION_STOPS.isdisjoint(tokens[begin:start]):
            continue
        if start - begin < NEGATION_WINDOW or tokens[begin] in _WISHES:
            return negator
    return None


def _negator(tokens: Sequence[str], start: int, negators: list[int]) -> str | None:
    """The negator that reaches tokens[start] (`negators`: where the tokens' negators are, in
    order): the nearest up to NEGATION_WINDOW words before it, or up to WISH_NEGATION_WINDOW
    before it with a wish right after it ("not want … a refund"), with no SCOPE_BREAK word or
    BREAK between (going back from the start, the first stop ends the search). The words
    between are tested by one isdisjoint a negator, not one by one."""
    nearest = bisect_left(negators, start)
    end = start
    while nearest:
        nearest -= 1
        at = negators[nearest]
        if at < start - WISH_NEGATION_WINDOW:
            break
        if not _NEGATION_STOPS.isdisjoint(tokens[at + 1 : end]):
            return None
        if start - at <= NEGATION_WINDOW or (at + 1 < start and tokens[at + 1] in _WISHES):
            return tokens[at]
        end = at
    return None


def _negated_alternative(tokens: Sequence[str], start: int, negators: list[int]) -> str | None:
    """The negator that reaches an "or" (or "nor") up to NEGATION_WINDOW words before
    tokens[start], in its clause and not across a SCOPE_BREAK word: "not a replacement or a
    refund" declines both."""
    for at in range(start - 1, max(-1, start - 1 - NEGATION_WINDOW), -1):
        token = tokens[at]
        if token in _NEGATION_STOPS:
            return None
        if token in _ALTERNATIVES:
            return _negator(tokens, at, negators)
    return None


# Threats (risk escalation). Routing reads a negator as declining what follows it within a
# few words ("not damaged, just late"). A threat is read more strictly: a negator counts only
# when it governs the threat's own words ("not going to sue", "no need for a lawyer", "won't
# post on social media"), so for threats (only: routing never reads these) a negation before a
# threat does not hold across
# - a first-person subject or possessive, which opens another clause, such as the consequent
#   of a condition written without a comma ("if you do not respond I will sue", "if it is not
#   fixed my solicitor will be in touch");
# - "until": what follows it is what the writer will do ("I will not stop until the ombudsman
#   hears about this").
# In the languages of the risk phrases (English, French, German and Spanish: "avocat",
# "Anwalt", "abogado"). As lemmas, as a text's words are.
THREAT_NEGATION_ENDS = frozenset(
    lemma(w)
    for w in (
        *("i", "we", "my", "our"),
        *("je", "j", "nous", "mon", "ma", "mes", "notre"),
        *("ich", "wir", "mein", "meine", "meinen", "meinem", "meiner"),
        *("unser", "unsere", "unseren", "unserem"),
        *("yo", "nosotros", "nosotras", "mi", "mis", "nuestro", "nuestra", "nuestros", "nuestras"),
        *("until", "till", "jusqu", "bis", "hasta"),
    )
)
# Words whose negation affirms what follows: "I will not hesitate to take legal action", "I
# have no doubt the ombudsman will agree", "je n'hésiterai pas à contacter un avocat", "ich
# werde nicht zögern", "no dudaré en llamar a un abogado". French and German may put the verb
# before its negator ("hésiterai pas", "zögere nicht"): a word on either side of it counts.
AFFIRMING_WHEN_NEGATED = frozenset(
    lemma(w)
    for w in (
        *("hesitate", "hesitation", "hesitant", "doubt"),
        *("hesiter", "hesite", "hesites", "hesitons", "hesitez", "hesitent", "hesiterai"),
        *("hesiteras", "hesitera", "hesiterons", "hesiterez", "hesiteront", "hesiterais"),
        *("hesiterait", "hesiterions"),
        *("zogern", "zogere", "zogerst", "zogert", "zogerte", "zogerten"),
        *("dudar", "dudo", "dudamos", "dudare", "dudaremos", "dudaria", "dudariamos", "duda"),
    )
)
# A negator after one of these in its clause is part of a condition, and a threat is a threat
# on a condition too: "if you don't refund me I will sue", "if you don't want a chargeback,
# refund me". (Not German "falls": as a lemma it is English "fall".)
THREAT_CONDITIONS = frozenset({"if", "unless", "si", "wenn"})


def _threat_negation_lifted(tokens: Sequence[str], start: int) -> bool:
    """Whether the negation routing reads before tokens[start] (a negator up to
    2 * WISH_NEGATION_WINDOW words before it, the furthest routing's negation reaches) does
    not hold for a threat there: a THREAT_NEGATION_ENDS word lies between them, the negator
    is one of AFFIRMING_WHEN_NEGATED's, or it is part of a condition."""
    for at in range(start - 1, max(-1, start - 1 - 2 * WISH_NEGATION_WINDOW), -1):
        token = tokens[at]
        if token in THREAT_NEGATION_ENDS:
            return True
        if token in NEGATORS:
            return (
                tokens[at + 1] in AFFIRMING_WHEN_NEGATED
                or (at > 0 and tokens[at - 1] in AFFIRMING_WHEN_NEGATED)
                or _in_condition(tokens, at)
            )
    return False


def _in_condition(tokens: Sequence[str], at: int) -> bool:
    """Whether one of THREAT_CONDITIONS comes before tokens[at] in its clause, up to
    WISH_NEGATION_WINDOW words before it."""
    for token in reversed(tokens[max(0, at - WISH_NEGATION_WINDOW) : at]):
        if token == BREAK:
            return False
        if token in THREAT_CONDITIONS:
            return True
    return False


def _negated_with(
    tokens: Sequence[str], start: int, negated: list[tuple[int, int, str]]
) -> str | None:
    """The negator of a negated threat that the threat at tokens[start] is part of or
    continues, up to NEGATION_WINDOW words after its end as if its last word were the negator
    ("I won't post about this on social media": "post about this" is negated, "social media"
    says where; "I'm not going to leave a bad review": "bad review" is part of "leave a bad
    review"), not across a clause break, a SCOPE_BREAK word or a THREAT_NEGATION_ENDS word.
    `negated`: (start, end, negator) of the negated threats."""
    for first, end, negator in negated:
        if first <= start < end:
            return negator
        if end <= start and start - (end - 1) <= NEGATION_WINDOW:
            between = tokens[end:start]
            if _NEGATION_STOPS.isdisjoint(between) and THREAT_NEGATION_ENDS.isdisjoint(between):
                return negator
    return None


# Above every character: the end of the range of the strings that begin with a prefix.
_LAST = "\U0010ffff"


def _typo_candidates(
    word: str, forms: list[str] | None, reversed_forms: list[str] | None
) -> list[str]:
    """Of `forms` (sorted; `reversed_forms` the same reversed, sorted), the ones that begin with
    the word's first n // 2 letters or end with its last n - n // 2 - 1, in their order: every
    form one edit (insertion, deletion, substitution, swap of neighbours) from the word is
    among them. The edit leaves the letters before it as they were, and those after it; an
    edit at or after n // 2 leaves the first half, one before it (two letters at most, with a
    swap) the last n - n // 2 - 1."""
    if not forms or not reversed_forms:
        return []
    head = word[: len(word) // 2]
    tail = word[::-1][: len(word) - len(word) // 2 - 1]
    found = set(forms[bisect_left(forms, head) : bisect_left(forms, head + _LAST)])
    ends = reversed_forms[
        bisect_left(reversed_forms, tail) : bisect_left(reversed_forms, tail + _LAST)
    ]
    found.update(form[::-1] for form in ends)
    return sorted(found)


# Variants of one phrase at most (a phrase with several varied words multiplies them).
MAX_VARIANTS = 64


def vary_phrase(phrase: str, synonyms: dict[str, tuple[str, ...]]) -> list[str]:
    """The phrase's variants with synonyms (keyed by lemma) in place of its words, the phrase
    itself first; a one-word phrase is only itself."""
    words = _words(fold(phrase))
    if len(words) < 2:
        return [phrase]
    variants: list[list[str]] = [[]]
    for word in words:
        choices = (word, *synonyms.get(lemma(word), ()))
        variants = [[*v, c] for v in variants for c in choices][:MAX_VARIANTS]
    return [phrase, *(" ".join(v) for v in variants[1:])]


@lru_cache(maxsize=256)
def phrase_index(phrases: tuple[str, ...]) -> PhraseIndex:
    """One list of phrases (its group is the empty string)."""
    return PhraseIndex((("", phrases),))


@lru_cache(maxsize=64)
def grouped_index(groups: tuple[tuple[str, tuple[str, ...]], ...]) -> PhraseIndex:
    """Several named lists of phrases matched in one pass."""
    return PhraseIndex(groups)
