"""Reading the group's own words: idea form, stance of a comment, places, people and languages.

Small, explainable rules on top of the embeddings: they decide what meaning alone cannot, such as
whether "Rent a van" is a step of the plan (a verb of doing) or "Karaoke night" a plan of its own.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]

WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)

# Openers that carry no content: "we could", "let's", "how about" ...
FILLER = re.compile(
    r"^(?:(?:maybe|perhaps|ok|okay|so|and|also|or|idea:?)\s+)*"
    r"(?:(?:i|we)\s+(?:think|suggest|propose)\s+(?:that\s+)?)?"
    r"(?:how about|what about|why not|let'?s|lets|we (?:could|should|can|might|must|need to)|"
    r"someone (?:could|should|needs to|can)|i (?:could|can|will)|i'?ll|you could|"
    r"(?:could|should|can) we|we'?ll)?\s*",
    re.IGNORECASE)

# Verbs that name one step of a larger plan ("Rent a van", "Pack the kitchen").
STEP_VERBS = frozenset("""
add adjust advertise announce apply arrange ask assemble assign bake book borrow bring build buy call
carry change check choose clean clear collect compare confirm contact cook copy count cover cut
decorate deliver design dig distribute do donate draft draw drive drop edit email empty fetch
file fill film find finish fix fold freeze gather get give hang hire hoover install invite
iron label lay lend line list load lock make map mark measure mend mix mop move mow oil order
pack paint pair phone photograph pick plan plant post pre-cut precut prepare price print
practise practice prune publish put raise rehearse read record recruit refurbish register remind
remove rent repair
replace research reserve rinse sand saw schedule scrub sell send serve set sew share shop sign sort source
split sponsor spread stack sterilise store sweep take tape teach tell test text tidy train translate
transport tune type unload unpack update vacuum wash water weed wipe wrap write
""".split())

# Steps that say nothing of the kind of work ("Make a plan", "Get it done").
GENERIC_VERBS = frozenset("""add ask change check choose do finish get give make pick plan prepare put
send set take tell update""".split())

# Verbs that name a whole activity the group would do ("Go bowling", "Play board games").
EVENT_VERBS = frozenset("""
go play visit watch see have try host throw hold organise organize run start join spend
celebrate enjoy attend hike swim camp travel ride walk dance sing explore tour stay eat dine
grab meet
""".split())

# "Everyone packs their own desk", "Kids paint them": a subject before the verb of the step.
SUBJECT = re.compile(r"^(?:everyone|everybody|each of us|all of us|we all|someone|somebody|one of us|"
                     r"the kids|kids|the children|children|parents|the team|volunteers|i|we)\s+",
                     re.IGNORECASE)

NEGATIVE = re.compile(
    r"(?:\bnot?\b|\bnope\b|\bnah\b|\bnever\b|don'?t|doesn'?t|can'?t|won'?t|hate|boring|"
    r"rather not|too (?:expensive|far|much|long|cold|hot)|bad idea|against|meh|\bugh\b|👎|"
    r"no thanks|again\?|not again|skip)",
    re.IGNORECASE)
POSITIVE = re.compile(r"(?:\+1|yes|love|great|count me in|i'?m in|agree|👍|good idea|sounds good|"
                      r"\bfun\b|i can|let'?s do|awesome|perfect|me too|definitely)", re.IGNORECASE)

LANGUAGES = ("Arabic Bengali Bulgarian Catalan Chinese Mandarin Cantonese Croatian Czech Danish "
             "Dutch English Estonian Farsi Persian Finnish French German Greek Hebrew Hindi Hungarian "
             "Icelandic Indonesian Irish Italian Japanese Korean Latvian Lithuanian Malay Norwegian "
             "Pashto Polish Portuguese Punjabi Romanian Russian Serbian Slovak Slovenian Somali "
             "Spanish Swahili Swedish Tagalog Tamil Thai Tigrinya Turkish Ukrainian Urdu "
             "Vietnamese Welsh Yoruba").split()

KIN = ("grandma granny grandmother nana grandpa grandad granddad grandfather mum mom mother dad "
       "father aunt auntie uncle sister brother cousin neighbour neighbor friend colleague boss "
       "teacher coach").split()

# Heads of "in the morning"-like phrases: times and abstractions, never places.
NOT_PLACES = frozenset("""morning evening afternoon night day days week weekend month year summer
winter spring autumn fall future end meantime group session chat plan way time meanwhile past
rain sun shade mood end budget""".split())
PLACE_STOP = re.compile(r"\s+(?:on|this|next|for|with|and|by|before|after|to|so|because|while|"
                        r"during|at|in|from|or|if|when|until|tomorrow|tonight|today)\b.*$",
                        re.IGNORECASE)
PLACE = re.compile(r"\b(?:at|in|to|near|around|inside|outside)\s+"
                   r"((?:the|our|my|her|his|their|a|an)\s+[^\W\d_][\w'’ -]{1,40})", re.IGNORECASE)
BARE_PLACES = re.compile(r"\b(?:at|to)\s+(school|work|church|home|university|college|uni|the office)\b",
                         re.IGNORECASE)


@lru_cache(maxsize=8192)
def clean(text: str) -> str:
    """Visible text only: normalised Unicode, no control characters, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isprintable():
        text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in " \n\t")
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def core(text: str) -> str:
    """An idea without its opener: "We could rent a van!" -> "rent a van"."""
    # Emoji and other symbols decorate; they do not belong in a heading or in "for {activity}".
    t = "".join(ch for ch in clean(text) if unicodedata.category(ch) not in ("So", "Sk", "Cs"))
    t = re.sub(r"\s+", " ", t).strip(" .!?…-–—:;,")
    stripped = FILLER.sub("", t, count=1).strip()
    return stripped or t


def _verb_of(ws: list[str]) -> tuple[str | None, list[str]]:
    """The leading verb of an idea's words, past a subject ("everyone packs" -> "pack")."""
    if not ws:
        return None, ws
    m = SUBJECT.match(" ".join(ws) + " ")
    if m and len(ws) > len(m.group(0).split()):
        rest = ws[len(m.group(0).split()):]
        verb = rest[0]
        forms = (verb, verb[:-1] if verb.endswith("s") else verb, verb[:-2] if verb.endswith("es") else verb)
        for cand in forms:
            if cand in STEP_VERBS or cand in EVENT_VERBS:
                return cand, rest
    return ws[0], ws


def lead_verb(text: str) -> str | None:
    return _verb_of(words(core(text)))[0]


# "Bake sale", "Book club", "Paint night": a verb-like word naming an event, not a step.
EVENT_NOUNS = frozenset("""sale sales night nights club evening party day fair festival marathon
contest competition swap class classes workshop session trip tour walk run show market jam
off along shop stall meet meetup""".split())


def form_of(text: str) -> str:
    """`step` (a verb of doing), `event` (a verb of taking part) or `thing` (a noun phrase)."""
    verb, ws = _verb_of(words(core(text)))
    if len(ws) > 1 and ws[1] in EVENT_NOUNS:
        return "thing"
    if verb in EVENT_VERBS:
        return "event"
    if verb in STEP_VERBS:
        return "step"
    return "thing"


def is_open_question(topic: str) -> bool:
    """Whether the topic asks the group to choose (ideas are alternatives) rather than naming a goal.

    "What should we do?", "Which design ...", "Pick a Sunday outing", "Next book for our club?" ask
    for a choice; "Help Grandma move" and "How do we pass the final?" name a goal the ideas serve.
    """
    t = clean(topic).lower()
    if re.match(r"^(?:what|which|where|how should|how shall|any ideas|ideas for|suggestions|should we|"
                r"shall we|what's|whats|pick|choose|decide|vote|next|best)\b", t):
        return True
    return "?" in t and bool(re.search(r"\b(?:what|which|where|ideas?|suggestions?|how should|"
                                       r"how shall)\b", t))


def stance(comment: str) -> int:
    """+1 backs the idea, -1 argues against it, 0 says neither (still counts as engagement)."""
    neg = bool(NEGATIVE.search(comment))
    pos = bool(POSITIVE.search(comment))
    if neg and not re.search(r"(?:can'?t wait|why not|no problem|not bad|don'?t mind)", comment,
                             re.IGNORECASE):
        return -1
    return 1 if pos else 0


def title_of(text: str, limit: int = 80) -> str:
    """An idea as a heading, in the group's own words."""
    t = core(text)
    t = t[:1].upper() + t[1:]
    if len(t) > limit:
        t = t[: limit - 1].rsplit(" ", 1)[0] + "…"
    return t or "Group plan"


def activity_phrase(title: str) -> str:
    """The approach as a noun phrase for task texts: "Go to the cinema" -> "the cinema",
    "Match everyone with a partner" -> "matching everyone with a partner"."""
    ws = title.rstrip("…").split()
    if not ws:
        return "the plan"
    # A step as a heading reads as a verb ("Match everyone ..."); inside a sentence it needs a noun.
    if len(ws) > 1 and ws[1].lower() not in EVENT_NOUNS and (
            form_of(title) == "step" or ws[0].lower() in ("match", "pair", "swap", "learn")):
        return " ".join([gerund(ws[0]), *ws[1:]])
    if ws[0].lower() in EVENT_VERBS and len(ws) > 1:
        ws = ws[1:]
        if ws[0].lower() in ("to", "for") and len(ws) > 1:
            ws = ws[1:]
    first = ws[0]
    keep = first.lower().rstrip("'’s") in KIN or first in LANGUAGES or not first[1:].islower()
    phrase = " ".join(ws)
    return phrase if keep else phrase[:1].lower() + phrase[1:]


def place_in(*texts: str) -> str | None:
    """The first place the group names ("to her new flat", "at the lake"), or None."""
    for text in texts:
        t = clean(text)
        for m in PLACE.finditer(t):
            phrase = PLACE_STOP.sub("", m.group(1)).strip(" .,!?;:'’\"")
            ws = phrase.split()
            if len(ws) < 2 or len(ws) > 5 or ws[-1].lower() in NOT_PLACES:
                continue
            if any(w.lower() in STEP_VERBS | EVENT_VERBS for w in ws[1:]):
                continue
            if ws[0].lower() in ("a", "an"):
                phrase = "the " + " ".join(ws[1:])
            return phrase
        m2 = BARE_PLACES.search(t)
        if m2:
            return m2.group(1).lower() if m2.group(1).lower() == "the office" else m2.group(1).lower()
    return None


def person_in(*texts: str) -> str | None:
    """Whom the plan is for, when the group says so ("Help Grandma move" -> "Grandma")."""
    for text in texts:
        for m in re.finditer(r"\b(?:help|for|visit|support|with|care for|surprise|celebrate)\s+"
                             r"((?:our|my|the)\s+)?([^\W\d_][\w'’]*)", clean(text), re.IGNORECASE):
            det, name = m.group(1) or "", m.group(2)
            if name.lower().rstrip("'’s") in KIN:
                return (det + name).strip() if det else name
    return None


def language_in(*texts: str) -> str | None:
    joined = " ".join(texts)
    for lang in LANGUAGES:
        if re.search(rf"\b{lang}\b", joined, re.IGNORECASE):
            return lang
    return None


def quote(text: str, limit: int = 120) -> str:
    """Member text as data: trimmed, in quotes, never able to read as an instruction of ours."""
    t = clean(text).replace("“", "\"").replace("”", "\"")
    if len(t) > limit:
        t = t[: limit - 1].rstrip() + "…"
    return f"“{t}”"


def slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", unicodedata.normalize("NFKD", text).encode("ascii", "ignore")
               .decode().lower()).strip("_")
    s = s[:limit].strip("_")
    if not s or not s[0].isalpha():
        s = "idea_" + s if s else "idea"
    return s


def gerund(verb: str) -> str:
    """"move" -> "moving", "plan" -> "planning", "organise" -> "organising"."""
    v = verb.lower()
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")) and len(v) > 2:
        return v[:-1] + "ing"
    vowels = "aeiou"
    if (len(v) <= 4 and len(v) >= 3 and v[-1] not in vowels + "wxy" and v[-2] in vowels
            and v[-3] not in vowels):
        return v + v[-1] + "ing"
    return v + "ing"


def goal_phrase(topic: str, limit_words: int = 9) -> str | None:
    """A goal as something one spends effort on: "Help Grandma move" -> "helping Grandma move"."""
    ws = core(topic).rstrip("?!. ").split()
    if not ws or len(ws) > limit_words or ws[0].lower() not in STEP_VERBS | GOAL_VERBS:
        return None
    return " ".join([gerund(ws[0]), *ws[1:]])


GOAL_VERBS = frozenset("""help organise organize plan prepare raise move set run start translate
teach learn throw celebrate support care hold create renovate redecorate refurbish launch
improve save restore""".split())


STOPWORDS = frozenset("""a an the and or of to for in on at with by from as is are be was were it its
this that these those our your their my his her we you they i me us them all any some each every
one two three more most other into onto over under up down out off about after before during
while when where which what who whom how why not no yes do does did done have has had can could
should would will shall may might must just also very too so than then there here such only own
same both few many much new next last first day days week weekend night evening morning time
group together everyone someone people thing things get make go let lets let's plan""".split())


_english = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter2 (Snowball English): "translating", "translation", "translate" -> "translat"."""
    return str(_english.stemWord(word.lower().strip("'’-")))


def content_stems(text: str) -> list[str]:
    """The words that carry meaning, stemmed: "Organise a street party" -> ["organise", "street", "party"]."""
    return [stem(w) for w in words(text) if len(w) > 2 and w not in STOPWORDS]


def goal_core(topic: str) -> str | None:
    """The work a goal names, without its context: "Build birdhouses with the kids at the club" ->
    "Build birdhouses". None for a question or when there is no context to cut."""
    if is_open_question(topic):
        return None
    t = core(topic)
    m = re.search(r"\s(?:with|for|at|in|into|on|to|after|before|between|from|during|near|by)\s", t)
    if m is None or len(t[: m.start()].split()) < 2:
        return None
    return t[: m.start()]


# "Market Street", "St Mary's", "Ash Road": names of places, whose words say nothing about the plan
# (a restaurant on Market Street is not a market stall).
NAMED_PLACE = re.compile(
    r"\b(?:[A-Z][\w'’]*\s+)+(?:Street|St|Road|Rd|Avenue|Ave|Lane|Close|Way|Square|Drive|Place|Park|"
    r"Hall|Centre|Center|Gardens|Court|Crescent|Terrace|Bridge|Hill|Green)\b|\bSt\.?\s+[A-Z][\w'’]*")


def drop_named_places(text: str) -> str:
    return NAMED_PLACE.sub(" ", text)
