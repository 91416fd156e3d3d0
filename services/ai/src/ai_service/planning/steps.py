"""What doing one of the group's own steps involves, when no catalogue role says it better.

A step such as "Get a quote from the printer" or "Drive her to physio" becomes a role in the
group's words. When the catalogue has a role close to it, the step borrows that role's texts
(composer.py); otherwise the kind of action its verb names (contact, book, buy, make, drive, ...)
gives concrete instructions, a fitting proof and what it needs (a car to drive, the
strength to carry). Ideas in a
language the verbs do not cover get the general checklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ai_service.planning.text import stem, words


@dataclass(frozen=True)
class StepKind:
    key: str
    verbs: frozenset[str]  # stems of the verbs (or tell-tale nouns) that name this kind of step
    instructions: str
    proof: str
    proof_types: tuple[str, ...]
    requires: tuple[str, ...] = ()  # yes/no questions a member must answer yes to
    phase: Literal["prepare", "do", "share"] = "do"


def _stems(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in text.split())


KINDS: tuple[StepKind, ...] = (
    StepKind(
        "drive", _stems("drive driving lifts car carpool ferry chauffeur"),
        "Agree the times and addresses in the session, check the car has enough seats (child seats "
        "if children ride) and fuel, plan the route and parking, and be there five minutes early. "
        "Post in the session when you set off and when everyone has arrived.",
        "Post a photo or a short note when everyone has arrived", ("image", "text"), requires=("has_car",)),
    StepKind(
        "contact", _stems("ask phone call email contact invite message talk speak apply request "
                          "write tell enquire inquire negotiate collect gather"),
        "Find the right person and the best way to reach them, say in two sentences who the group "
        "is and exactly what you are asking for (date, time, numbers, cost), and get the answer in "
        "writing. Share the answer, the name of your contact and any conditions in the session, and "
        "follow up after three days if nobody replies.",
        "Post the answer you got: who agreed to what, and any conditions", ("text",), phase="prepare"),
    StepKind(
        "book", _stems("book reserve hire rent"),
        "Compare two or three options on price, date, deposit and cancellation terms, check the "
        "choice with the group before you pay, then book it. Share the confirmation in the session "
        "with what to bring, the pick-up or return time and who holds the booking.",
        "Post the booking confirmation (hide personal details)", ("image", "text"), phase="prepare"),
    StepKind(
        "buy", _stems("buy order purchase source shop quote price"),
        "Make a list with quantities and a spending limit agreed with the group, compare at least "
        "two shops or sites, buy or order in time for delivery and keep the receipts. Post what you "
        "spent so the costs can be split fairly.",
        "Post a photo of what you got and the receipt total", ("image", "text"), phase="prepare"),
    StepKind(
        "make", _stems("make build design create cook bake knit sew craft write draft print paint "
                       "decorate assemble prepare prep freeze"),
        "List the materials and tools you need, make a first version and show it to the group in "
        "the session for feedback, then finish it before the due date. Note what it cost and how "
        "long it took, so the next time is easier.",
        "Post a photo of the finished result", ("image", "text")),
    StepKind(
        "organise", _stems("plan organise organize schedule split decide choose theme rota "
                           "coordinate arrange divide assign match pair"),
        "Write down the options, ask each member in the session what works for them (a quick poll "
        "is enough), settle who does what, when and where, and post the final plan so everyone "
        "knows their part. Remind people the day before.",
        "Post the final plan or rota", ("text", "image"), phase="prepare"),
    StepKind(
        "clean", _stems("clean tidy wash clear sort pack empty declutter sweep scrub hoover"),
        "Agree when and where, bring bags, boxes, gloves and cleaning things, sort what is kept, "
        "given away, recycled or thrown out, and leave the place tidy.",
        "Post a before-and-after photo", ("image",)),
    StepKind(
        "deliver", _stems("deliver drop bring distribute hand"),
        "Agree the time and place with whoever receives it, pack it so it travels well, label it "
        "(what it is, for whom, the date), hand it over in person or leave it where agreed, and post "
        "in the session once it has arrived.",
        "Post a photo or a short note when it is handed over", ("image", "text")),
    StepKind(
        "carry", _stems("move carry lift haul shift"),
        "Agree the time with the group and who helps you, clear the way and protect floors and door "
        "frames, lift with a partner with your knees bent, and check nothing is damaged once it is "
        "in place.",
        "Post a photo once it is in place", ("image", "text"), requires=("can_lift",)),
    StepKind(
        "fix", _stems("fix repair mend replace install instal configure update upgrade wipe reset"),
        "Find out exactly what is needed (parts, tools, the instructions or a how-to guide) and gather "
        "it before you start, work safely, test that everything works afterwards, and note what you "
        "used and what it cost.",
        "Post a photo of the finished work and what you tested", ("image", "text")),
    StepKind(
        "check", _stems("test check inspect measure compare review audit count survey note"),
        "Make a simple checklist of what to look at, go through it item by item and note each "
        "result (fine / problem / what is needed) in a shared list. Flag anything that needs money "
        "or a decision to the group in the session.",
        "Post your checklist with the results", ("text", "image"), phase="prepare"),
    StepKind(
        "practise", _stems("practise practice rehearse train drill learn teach coach meet study"),
        "Set a time and place that suits most members, prepare a short plan for each meeting (what to "
        "cover, in what order, a final run-through), keep to the time agreed, and note who came and "
        "what to work on next.",
        "Post who came and how it went, with a rating from 1 to 5", ("text", "rating")),
    StepKind(
        "record", _stems("film record photograph photo interview shoot video podcast"),
        "Prepare the questions or a shot list, charge the camera or phone and free up storage, ask "
        "permission before recording anyone, record somewhere quiet and well lit, and put the files "
        "in one shared folder with clear names.",
        "Post a still or a short clip from the recording", ("image", "text")),
    StepKind(
        "promote", _stems("promote advertise announce poster flyer leaflet post publicise publish "
                          "share spread campaign petition"),
        "Write a short message with what, when, where and how to join, make a poster or post for the "
        "channels the group uses, send it a week ahead and again the day before, and count the replies.",
        "Post a photo of the poster or a screenshot of the message", ("image", "text"), phase="prepare"),
    StepKind(
        "contest", _stems("contest competition prize prizes award awards quiz tournament judge vote"),
        "Set simple rules (who can enter, categories, the deadline), find two or three fair judges or a "
        "public vote, get small prizes or certificates, announce it with the date and how to take "
        "part, and share the winners with a photo afterwards.",
        "Post the rules and, afterwards, the winners", ("text", "image"), phase="prepare"),
    StepKind(
        "escort", _stems("walk accompany escort patrol supervise chaperone"),
        "Agree the route, the meeting point and the start and end times, keep a list of who is with you "
        "and a contact number for each, bring a torch and a charged phone, count heads at every "
        "stop, and bring everyone back to the meeting point on time.",
        "Post a short note when everyone is back, with how it went", ("text", "image")),
    StepKind(
        "host", _stems("host welcome serve run open lead greet guide"),
        "Arrive early to set up, welcome people and show them where things are, keep to the timing "
        "agreed in the session, look out for anyone left on their own, and help clear up afterwards.",
        "Post a photo from the day", ("image", "text")),
)

GENERAL = StepKind(
    "general", frozenset(),
    "Work out what it needs (things, people, money, time), write it as a short checklist in the "
    "session, agree the details with the group, and get it done before the due date.",
    "Post a photo or a short note showing it done", ("image", "text"))

_BY_VERB: dict[str, StepKind] = {}
for _kind in KINDS:
    for _v in _kind.verbs:
        _BY_VERB.setdefault(_v, _kind)


_CONTEST_NOUNS = _stems("contest competition tournament quiz")


def kind_of(step: str) -> StepKind:
    """The kind of action a step names: its leading verb first, then any tell-tale word in it.

    "Drive her to physio" is driving; "Parents' car pool to the tournament" too (its noun says
    so); "Trophies for each age group" names no action and gets the general checklist.
    """
    ws = [stem(w) for w in words(step)]
    # A contest is a contest whatever comes first ("Decoration contest for the front gardens").
    if any(w in _CONTEST_NOUNS for w in ws):
        return _BY_VERB[stem("contest")]
    for w in ws[:3]:
        if w in _BY_VERB:
            return _BY_VERB[w]
    # Past the leading words only nouns that name the action count ("car pool", "a quote"), not
    # verbs that are nouns too ("the hard drives").
    for w in ws:
        if w in _BY_VERB and _BY_VERB[w].key in ("drive", "book", "buy", "record", "promote") and w not in (
                stem("drive"), stem("post"), stem("share")):
            return _BY_VERB[w]
    return GENERAL
