"""Role archetypes the builtin planner draws from, chosen by the words of the use case and ideas.

Texts use `{activity}` (the chosen idea), `{topic}` and, for drivers, `{passengers}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Archetype:
    key: str
    name: str
    description: str
    keywords: frozenset[str]
    effort: int
    task_title: str
    instructions: str
    guidance: str
    proof: tuple[str, ...]
    requires: tuple[tuple[str, str, float | bool], ...] = ()  # (question, "equals"|"atLeast", value)
    open_ended: bool = False  # may take many members
    generic: bool = False  # fits any topic; used to fill up
    share: float = 0.25  # max members as a share of the group
    extra: dict[str, str] = field(default_factory=dict)


def _k(words: str) -> frozenset[str]:
    return frozenset(words.split())


ARCHETYPES: list[Archetype] = [
    Archetype(
        "driver", "Driver", "Drive part of the group to {activity} and back",
        _k("transport drive driving car cars ride rides trip outing weekend travel excursion picnic "
           "bowling cinema beach hike lake move moving relocation furniture deliver delivery "
           "carpool pickup"),
        3, "Drive the group",
        "Pick up {passengers} and get everyone to {activity} on time. Share your departure time "
        "in the session the day before.",
        "Post a selfie of the group in the car", ("image",),
        requires=(("has_car", "equals", True),), share=0.25),
    Archetype(
        "tickets", "Ticket buyer", "Book and pay for the tickets for {activity}",
        _k("ticket tickets cinema movie movies film concert bowling museum theatre theater show "
           "match entry zoo festival admission"),
        2, "Buy the tickets",
        "Compare prices, buy tickets for everyone for {activity}, and share the booking "
        "reference and what each person owes.",
        "Post a photo of the tickets (hide any barcodes)", ("image", "text"),
        requires=(("budget", "atLeast", 20),), share=0.2),
    Archetype(
        "food", "Food and drinks", "Bring food, snacks and drinks for {activity}",
        _k("food snack snacks drinks drink picnic popcorn cinema dinner lunch breakfast party bbq "
           "barbecue cake bake potluck eat catering refreshments"),
        2, "Bring the food",
        "Buy or make food and drinks for everyone at {activity}; check allergies in the session "
        "first and keep the receipt.",
        "Post a photo of the food and rate it from 1 to 5", ("image", "rating"),
        requires=(("budget", "atLeast", 10),), share=0.25),
    Archetype(
        "booking", "Booker", "Reserve the place and time for {activity}",
        _k("booking book reserve reservation venue room table lane lanes bowling restaurant hall "
           "slot court pitch appointment"),
        2, "Make the reservation",
        "Reserve a place and time for {activity} that suits the group, then share the "
        "confirmation with the address and start time.",
        "Post the confirmation (screenshot or text with date, time and place)", ("text", "image"),
        share=0.15),
    Archetype(
        "promoter", "Promoter", "Spread the word about {activity}",
        _k("promotion promote outreach poster posters flyer flyers social advertise invite invites "
           "marketing charity fundraiser fundraising campaign volunteer volunteers awareness"),
        2, "Promote it",
        "Write a short announcement for {activity}, share it on at least two channels (posters, "
        "social media, group chats) and invite people personally.",
        "Post a photo of your poster or a screenshot of your post", ("image",), share=0.3),
    Archetype(
        "treasurer", "Treasurer", "Handle the money for {activity}",
        _k("money donations donation fundraising fundraiser budget cash collect collection pay "
           "payment split costs cost funds treasurer sponsor sponsors"),
        2, "Handle the money",
        "Set up how money is collected for {activity}, keep a simple list of every payment or "
        "donation, and share the totals with the group.",
        "Post the totals collected and spent", ("text",), share=0.15),
    Archetype(
        "supplies", "Supplies buyer", "Get the supplies needed for {activity}",
        _k("supplies gloves bags tools materials equipment clean cleaning cleanup clean-up litter "
           "paint decoration decorations boxes tape bins"),
        2, "Get the supplies",
        "Make a list of the supplies {activity} needs, buy or borrow them, and bring them on the "
        "day.",
        "Post a photo of the supplies ready to go", ("image",),
        requires=(("budget", "atLeast", 15),), share=0.2),
    Archetype(
        "permits", "Paperwork", "Sort out permissions and paperwork for {activity}",
        _k("permit permits permission permissions authority council city paperwork address "
           "registration insurance forms official landlord"),
        2, "Sort out the paperwork",
        "Find out which permissions or forms {activity} needs, file them, and tell the group "
        "what was approved.",
        "Post the approval or a summary of the filed forms", ("text", "image"), share=0.15),
    Archetype(
        "topic_lead", "Topic summariser", "Own one part of the material and summarise it",
        _k("study exam exams topic topics summary summaries chapter chapters learn learning course "
           "lecture lectures notes revision revise syllabus"),
        3, "Summarise your topic",
        "Take one topic of {topic}, write a one-page summary with the key points and examples, "
        "and share it before the next meeting.",
        "Post your one-page summary", ("text", "image"), open_ended=True, share=0.6),
    Archetype(
        "quiz_master", "Quiz master", "Prepare questions to test the group",
        _k("quiz quizzes exam exams test tests questions practice flashcards mock"),
        2, "Prepare a quiz",
        "Write ten practice questions with answers covering {topic} and run the quiz with the "
        "group.",
        "Post the questions with answers and rate how the group did", ("text", "rating"),
        share=0.2),
    Archetype(
        "packer", "Packer", "Pack and label things for {activity}",
        _k("packing pack boxes move moving relocation office furniture clear clearing label"),
        3, "Pack and label",
        "Pack your assigned area into labelled boxes for {activity} and list what is in each "
        "box.",
        "Post a photo of the packed, labelled boxes", ("image",), open_ended=True, share=0.5),
    Archetype(
        "tech", "Tech setup", "Set up computers, network and devices for {activity}",
        _k("computers computer laptop laptops network wifi tech technology website online video "
           "streaming projector devices setup"),
        3, "Set up the tech",
        "Bring a laptop, set up what {activity} needs (network, devices, accounts) and test it "
        "before the group arrives.",
        "Post a photo of the working setup", ("image", "text"),
        requires=(("has_laptop", "equals", True),), share=0.2),
    Archetype(
        "waste_sorter", "Waste sorter", "Sort and dispose of what is collected",
        _k("waste recycling recycle sorting litter trash garbage rubbish clean cleanup clean-up "
           "park street river beach"),
        2, "Sort the waste",
        "Sort what the group collects into recycling, general waste and hazards, and arrange "
        "the pick-up or drop-off.",
        "Post a photo of the sorted bags", ("image",), open_ended=True, share=0.4),
    Archetype(
        "coordinator", "Coordinator", "Keep the plan together: time, place, who brings what",
        _k("plan planning organise organize coordinate coordination schedule logistics group "
           "team together everyone"),
        2, "Coordinate the plan",
        "Agree the time and meeting point for {activity}, keep a list of who does what, and "
        "remind everyone the day before.",
        "Post the final plan: time, place and who does what", ("text",), generic=True, share=0.1),
    Archetype(
        "memory_keeper", "Memory keeper", "Capture {activity} and share the best moments",
        _k("photo photos pictures memories social party celebration outing weekend fun friends"),
        1, "Capture the moment",
        "Take photos during {activity} (ask before photographing people) and share the best "
        "three with the group.",
        "Post the best group photo and rate the day from 1 to 5", ("image", "rating"),
        generic=True, share=0.2),
    Archetype(
        "helper", "Helper", "Lend a hand wherever {activity} needs it",
        frozenset(),
        1, "Lend a hand",
        "Check in with the coordinator, pick up an open to-do for {activity}, and be there to "
        "help on the day.",
        "Post a short note or photo of what you did", ("text", "image"),
        open_ended=True, generic=True, share=1.0),
]

BY_KEY = {a.key: a for a in ARCHETYPES}

# Short titles for well-known activities, so an approach reads like a plan, not an echo.
ACTIVITY_TITLES: list[tuple[tuple[str, ...], str]] = [
    (("cinema", "movie", "film"), "Cinema night"),
    (("bowling",), "Bowling evening"),
    (("picnic",), "Picnic in the park"),
    (("hike", "hiking"), "Group hike"),
    (("bake sale",), "Bake sale"),
    (("concert",), "Concert night"),
    (("museum",), "Museum visit"),
    (("beach",), "Beach day"),
    (("karaoke",), "Karaoke night"),
    (("escape room",), "Escape room"),
]
