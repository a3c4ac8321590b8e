"""Which language a comment is written in, as far as sentiment needs to know.

VADER's lexicon and the triage words are English: a German comment's "die" (the article) reads as
the English verb, so every such comment would count as negative. A comment is taken as English unless
more of its words are the common function words of one other language than of English; the
lists hold only words that are not also English words ("die", "also", "an" are left out).
"""

from __future__ import annotations

import re

ENGLISH = frozenset("""the and is are was were this that it not but with for you your my very have has had
would could should what when which there their they them of to in on at be been just so too really""".split())
OTHER: dict[str, frozenset[str]] = {
    "German": frozenset("""der das und ist nicht ein eine einen ich sehr mit auf für es sich auch wie aber noch
        nur wird wurde kann können bei zum zur dem den des mir mich wir sie ihr ist sind war waren funktioniert
        gut schlecht leider immer keine kein""".split()),
    "French": frozenset("""le la les et est pas une je très avec pour ce des du sur qui que mais ne nous vous
        il elle sont était été cette ces mon ma mes bien trop fonctionne toujours""".split()),
    "Spanish": frozenset("""el los las y es una muy con para que por pero del al lo se su sus como más está
        son fue esta este funciona bien siempre nada""".split()),
    "Dutch": frozenset("""het een en niet ik met zeer van op voor dat ook maar bij zijn werd kan wel nog
        goed slecht altijd geen""".split()),
    "Italian": frozenset("""il e non un una molto con che di da sono è questo questa ma anche più
        funziona bene sempre niente""".split()),
    "Portuguese": frozenset("""o os e é um uma muito com para que não mas do da dos das em por como mais
        está são foi funciona bem sempre nada""".split()),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def language(text: str) -> str | None:
    """The language ``text`` is written in when it is clearly not English ('German'), else None
    (English, or too few telling words to say)."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return None
    english = sum(w in ENGLISH for w in words)
    best, hits = None, 0
    for name, vocabulary in OTHER.items():
        n = sum(w in vocabulary for w in words)
        if n > hits:
            best, hits = name, n
    return best if hits >= 2 and hits > english else None
