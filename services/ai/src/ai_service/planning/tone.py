"""The use case's `templateStyle` as a tone for every text the built-in planner writes.

Four tones: friendly (the default), formal, playful and concise. A style is free text set by an
admin ("formal and brief"); the first tone word it names wins, unknown styles read as friendly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TONES = ("friendly", "formal", "playful", "concise")
_ALIASES = {
    "friendly": ("friendly", "warm", "casual", "relaxed", "kind"),
    "formal": ("formal", "professional", "business", "polite", "official"),
    "playful": ("playful", "fun", "funny", "cheerful", "witty", "light-hearted", "lighthearted"),
    "concise": ("concise", "brief", "short", "terse", "minimal", "to the point"),
}
_CONTRACTIONS = {
    "can't": "cannot", "won't": "will not", "don't": "do not", "doesn't": "does not",
    "isn't": "is not", "aren't": "are not", "it's": "it is", "you're": "you are",
    "let's": "let us", "that's": "that is", "there's": "there is", "we're": "we are",
    "you'll": "you will", "we'll": "we will", "i'm": "I am", "they're": "they are",
}


def tone_of(style: str | None) -> str:
    s = (style or "").lower()
    hits = [(s.find(w), tone) for tone, ws in _ALIASES.items() for w in ws if w in s]
    return min(hits)[1] if hits else "friendly"


def _sentences(text: str) -> list[str]:
    return [p for p in re.split(r"(?<=[.!?])\s+", text.strip()) if p]


def _formal(text: str) -> str:
    def expand(m: re.Match[str]) -> str:
        word = m.group(0)
        out = _CONTRACTIONS[word.lower().replace("’", "'")]
        return out[:1].upper() + out[1:] if word[:1].isupper() else out
    pattern = r"\b(?:" + "|".join(re.escape(k).replace("'", "['’]") for k in _CONTRACTIONS) + r")\b"
    text = re.sub(pattern, expand, text, flags=re.IGNORECASE)
    return text.replace("!", ".")


@dataclass(frozen=True)
class Tone:
    name: str

    def instructions(self, text: str, n: int = 0) -> str:
        """A member's task instructions; `n` varies the friendly/playful closers between members."""
        if self.name == "formal":
            return "Please note your responsibilities. " + _formal(text)
        if self.name == "concise":
            return " ".join(_sentences(text)[:2])
        if self.name == "playful":
            closers = ("You've got this!", "Go team!", "The group is counting on you!")
            return f"Your mission: {text} {closers[n % len(closers)]}"
        closers = ("Thanks for taking this on!", "Thank you, this helps everyone!",
                   "Thanks, the group appreciates it!")
        return f"{text} {closers[n % len(closers)]}"

    def summary(self, title: str, body: str) -> str:
        if self.name == "formal":
            return _formal(f"Proposed plan, {title}: {body}")
        if self.name == "concise":
            return f"{title}: {_sentences(body)[0] if _sentences(body) else body}"
        if self.name == "playful":
            return f"Game plan for {title}: {body} Let's make it happen!"
        return f"Here's the plan for {title}: {body}"

    def question(self, text: str) -> str:
        if self.name == "formal":
            return "Please indicate: " + _formal(text[:1].lower() + text[1:])
        if self.name == "concise":
            return re.sub(r"\s*\([^)]*\)", "", text).replace(" for the plan", "")
        return text

    def guidance(self, text: str) -> str:
        if self.name == "formal":
            return "Please " + _formal(text[:1].lower() + text[1:])
        return text

    def rationale(self, text: str) -> str:
        return _formal(text) if self.name == "formal" else text
