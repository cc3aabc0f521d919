# ruff: noqa: E501  (templates read better unwrapped)
"""Generate the templated part of the example bank (``classifier/examples/generated.jsonl``).

    python tools/bankgen/bankgen.py     # from the repository root: rewrites the bank file

A development tool, not part of the installed packages. Every row of the label table in
``tools/bankgen/LABELS.md`` gets templates (the functions below) filled from the
vocabularies in ``tools/bankgen/vocabulary.yaml``, in several registers (terse chat,
formal instruction, instruction with pasted input, multi-sentence context). Nothing here
is copied from an evaluation set: names, numbers, reviews and news snippets are invented.
The output is deterministic (fixed seed), so the bank file only changes when this
directory does. Each row carries ``group``, the name of the template that wrote it, so
held-out evaluation can leave whole templates out (``laneway classify eval``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "classifier" / "examples" / "generated.jsonl"
VOCABULARY_FILE = HERE / "vocabulary.yaml"
PER_GENERATOR = 40

Gen = Callable[[random.Random], str]
T = TypeVar("T")

_VOCABULARY: dict[str, Any] = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8"))
NAMES: list[str] = _VOCABULARY["names"]
ITEMS: list[str] = _VOCABULARY["items"]
CITIES: list[str] = _VOCABULARY["cities"]
COUNTRIES: list[str] = _VOCABULARY["countries"]
LANGS: list[str] = _VOCABULARY["langs"]
PROG_LANGS: list[str] = _VOCABULARY["prog_langs"]
WORDS: list[str] = _VOCABULARY["words"]
UNITS: list[list[str]] = _VOCABULARY["units"]
MISSPELLED: list[str] = _VOCABULARY["misspelled"]
SPELL: list[str] = _VOCABULARY["spell"]
PHRASES: list[str] = _VOCABULARY["phrases"]
TRIVIA: list[str] = _VOCABULARY["trivia"]
FILL: dict[str, list[str]] = _VOCABULARY["fill"]
EASY_KNOWLEDGE: list[str] = _VOCABULARY["easy_knowledge"]
YESNO: list[str] = _VOCABULARY["yesno"]
ADJ_POS: list[str] = _VOCABULARY["adj_pos"]
ADJ_NEG: list[str] = _VOCABULARY["adj_neg"]
PRODUCTS: list[str] = _VOCABULARY["products"]
NEWS: list[list[str]] = _VOCABULARY["news"]
ENTITY_BIOS: list[str] = _VOCABULARY["entity_bios"]
SHORT_INPUTS: list[str] = _VOCABULARY["short_inputs"]
TOPICS_EXPLAIN: list[str] = _VOCABULARY["topics_explain"]
WHY_Q: list[str] = _VOCABULARY["why_q"]
ADVICE: list[str] = _VOCABULARY["advice"]
GOALS: list[str] = _VOCABULARY["goals"]
CONTEXTS: list[str] = _VOCABULARY["contexts"]
DISHES: list[str] = _VOCABULARY["dishes"]
PAIRS: list[list[str]] = _VOCABULARY["pairs"]
PERSONAS: list[str] = _VOCABULARY["personas"]
COUNTERFACTUAL: list[str] = _VOCABULARY["counterfactual"]
OPEN: list[str] = _VOCABULARY["open"]
HUMANITIES: list[str] = _VOCABULARY["humanities"]
STEM_EXPLAIN: list[str] = _VOCABULARY["stem_explain"]
STEM_CONCEPTS: dict[str, list[str]] = _VOCABULARY["stem_concepts"]
WRITING_KINDS: list[str] = _VOCABULARY["writing_kinds"]
WRITING_SUBJECTS: list[str] = _VOCABULARY["writing_subjects"]
WRITING_CONSTRAINTS: list[str] = _VOCABULARY["writing_constraints"]
ACT_AS: list[list[str]] = _VOCABULARY["act_as"]
STEM_CONTEXT: list[list[str]] = _VOCABULARY["stem_context"]
DISCUSS: list[str] = _VOCABULARY["discuss"]
EASY_SCIENCE: list[str] = _VOCABULARY["easy_science"]
CODE_TASKS: list[str] = _VOCABULARY["code_tasks"]
BUGGY: list[list[str]] = _VOCABULARY["buggy"]
MATH: list[str] = _VOCABULARY["math"]
PUZZLES: list[str] = _VOCABULARY["puzzles"]
FERMI: list[str] = _VOCABULARY["fermi"]
TECH_HARD: list[str] = _VOCABULARY["tech_hard"]
SENTENCES: list[str] = _VOCABULARY["sentences"]
QUIZ: list[Any] = _VOCABULARY["quiz"]
COMMON_SENSE: list[str] = _VOCABULARY["common_sense"]
FACTS_SPORT_LIT: list[str] = _VOCABULARY["facts_sport_lit"]
ANALYSIS_CONTEXT: list[str] = _VOCABULARY["analysis_context"]
TRENDS: list[str] = _VOCABULARY["trends"]
ANALYSIS_ASK: list[str] = _VOCABULARY["analysis_ask"]
CONCEPT_PAIRS: list[list[str]] = _VOCABULARY["concept_pairs"]
FICTIONAL: list[str] = _VOCABULARY["fictional"]
EXPERT_TOPICS: list[str] = _VOCABULARY["expert_topics"]


def pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[rng.randrange(len(items))]


def casing(rng: random.Random, text: str) -> str:
    """Chat users often type in lower case without a final question mark."""
    roll = rng.random()
    if roll < 0.3:
        return text.lower().rstrip("?.")
    if roll < 0.4:
        return text.rstrip("?.")
    return text[0].upper() + text[1:]


# --------------------------------------------------------------------------- fast-path


def greeting(rng: random.Random) -> str:
    return pick(
        rng,
        [
            "hi",
            "hey there",
            "hello!",
            "good morning",
            "morning!",
            "hey, how are you",
            "hiya, how's your day going",
            "evening!",
            "howdy partner",
            "hello, anybody there?",
            "greetings",
            "hey hey",
            "what's up",
            "how's everything",
            "how is your day",
            "hi, nice to meet you",
            "thank you so much",
            "thanks, that helped",
            "appreciate it",
            "many thanks",
            "ok thanks bye",
            "goodbye for now",
            "i have to go, bye",
            "see you later",
            "later!",
            "farewell",
            "have a good one",
            "that's all, thanks",
            "talk soon",
            "good night!",
            "sleep well",
            "hello again",
            "i'm back",
            "you're awesome",
            "you are very helpful",
            "great job",
        ],
    )


def small_talk(rng: random.Random) -> str:
    return pick(
        rng,
        [
            "what is your name",
            "what do people call you",
            "do you have a name i can use",
            "i'd like to call you max from now on",
            "can i give you a nickname",
            "who made you",
            "who programmed you",
            "what company do you work for",
            "who do you work for",
            "who is your creator",
            "are you a bot",
            "are you a person or a computer",
            "am i chatting with a real human",
            "are you human",
            "is this an automated assistant",
            "how old are you",
            "what's your age",
            "when were you born",
            "where are you from",
            "where do you live",
            "what are your hobbies",
            "what do you do for fun",
            "do you have any pets",
            "do you like dogs or cats more",
            "what's the meaning of life",
            "why are we here",
            "what is the purpose of existence, in one line",
            "tell me a joke",
            "got any jokes about programmers",
            "tell me a joke about {x}",
            "say something funny",
            "make me smile",
            "tell me a pun about {x}",
            "tell me a fun fact",
            "give me a fun fact about {x}",
            "tell me something i don't know about {x}",
            "random fact please",
            "what can i ask you",
            "what kinds of things can you do",
            "what's my name",
            "do you remember my name",
            "call me {n}",
            "my name is {n}",
            "do you sleep",
            "are you happy",
            "do you get bored",
            "what's your favourite food",
            "do you like {x}",
            "what's your favourite movie",
        ],
    ).format(
        x=pick(
            rng,
            [
                "cats",
                "space",
                "penguins",
                "coffee",
                "sharks",
                "the ocean",
                "bananas",
                "volcanoes",
                "honeybees",
                "math",
                "pizza",
                "owls",
                "chess",
                "trains",
            ],
        ),
        n=pick(rng, NAMES),
    )


def definition(rng: random.Random) -> str:
    w = pick(rng, WORDS)
    return casing(
        rng,
        pick(
            rng,
            [
                f"define {w}",
                f"what does {w} mean?",
                f"what is the meaning of {w}?",
                f"meaning of the word {w}",
                f"give me a short definition of {w}",
                f"what's the definition of {w}",
                f"{w} definition",
                f"can you define the word {w} for me",
                f"what is a synonym for {w}?",
                f"give me an antonym of {w}",
                f"what does the term {w} refer to?",
                f"In one sentence, what is {w}?",
            ],
        ),
    )


def arithmetic(rng: random.Random) -> str:
    a, b = rng.randint(2, 999), rng.randint(2, 99)
    op = pick(rng, ["plus", "minus", "times", "divided by", "multiplied by", "+", "-", "*", "/"])
    return casing(
        rng,
        pick(
            rng,
            [
                f"what is {a} {op} {b}?",
                f"{a} {op} {b}",
                f"calculate {a} {op} {b}",
                f"what's {a} {op} {b}",
                f"can you work out {a} {op} {b}",
                f"what is the square root of {b * b}?",
                f"what is {b} squared?",
                f"what is {rng.randint(5, 40)} percent of {a}?",
                f"add {a} and {b}",
                f"subtract {b} from {a}",
                f"multiply {a} by {b}",
                f"divide {a} by {b}",
                f"what's {b} to the power of 3",
                f"is {a} a prime number?",
                f"is {a} even or odd?",
                f"round {a}.{rng.randint(10, 99)} to the nearest whole number",
                f"what is half of {a}?",
            ],
        ),
    )


def conversion(rng: random.Random) -> str:
    a, b = pick(rng, [f"{u}|{v}" for u, v in UNITS]).split("|")
    n = pick(rng, [str(rng.randint(1, 500)), f"{rng.randint(1, 20)}.5"])
    return casing(
        rng,
        pick(
            rng,
            [
                f"convert {n} {a} to {b}",
                f"how many {b} is {n} {a}?",
                f"{n} {a} in {b}",
                f"what is {n} {a} in {b}?",
                f"how many {b} are in a {a.rstrip('s')}?",
                f"change {n} {a} into {b} please",
                f"{n} {a} equals how many {b}",
            ],
        ),
    )


def spelling(rng: random.Random) -> str:
    return casing(
        rng,
        pick(
            rng,
            [
                f"how do you spell {pick(rng, SPELL).lower()}",
                f"spell {pick(rng, SPELL).lower()} for me",
                f"is '{pick(rng, MISSPELLED)}' spelled correctly?",
                f"what's the correct spelling of {pick(rng, MISSPELLED)}",
                f"fix the spelling: I {pick(rng, ['recieved', 'beleived', 'definately got'])} "
                f"the {pick(rng, ['pakage', 'mesage', 'invoise'])} {pick(rng, ['yesturday', 'tommorow', 'untill noon'])}",
                f"correct the typos in this sentence: {pick(rng, ['Their', 'Thier'])} "
                f"{pick(rng, ['goverment', 'enviroment', 'calender'])} is "
                f"{pick(rng, ['wierd', 'seperate', 'independant'])}.",
                f"Please fix the spelling and grammar: {pick(rng, ['me and him', 'she dont', 'we was'])} "
                f"going to the {pick(rng, ['libary', 'restarant', 'docter'])} later",
                f"how many letters are in the word {pick(rng, SPELL).lower()}",
            ],
        ),
    )


def translate(rng: random.Random) -> str:
    p, lang = pick(rng, PHRASES), pick(rng, LANGS)
    return casing(
        rng,
        pick(
            rng,
            [
                f"how do you say {p} in {lang}",
                f"translate '{p}' into {lang}",
                f"what is '{p}' in {lang}?",
                f"{p} in {lang}",
                f"Translate the following sentence to {lang}: {p[0].upper() + p[1:]}.",
                f"what's the {lang} word for {p}",
                f"can you translate {p} to {lang} for me",
                f"how would i say '{p}' if i were in {pick(rng, COUNTRIES)}",
            ],
        ),
    )


def fill(rng: random.Random, template: str) -> str:
    out = template
    for key, values in FILL.items():
        token = "{" + key + "}"
        while token in out:
            out = out.replace(token, pick(rng, list(values)), 1)
    return out


def trivia(rng: random.Random) -> str:
    text = fill(rng, pick(rng, TRIVIA))
    style = rng.random()
    if style < 0.55:
        return text  # search-box style: lower case, no question mark
    if style < 0.85:
        return text[0].upper() + text[1:] + "?"
    return pick(rng, ["quick question: ", "do you know ", "tell me ", "i forgot, "]) + text + "?"


def easy_knowledge(rng: random.Random) -> str:
    return pick(rng, EASY_KNOWLEDGE)


def yes_no(rng: random.Random) -> str:
    t = pick(rng, YESNO).format(
        food=pick(rng, ["cookie dough", "oats", "chocolate", "rice", "honey", "green tea", "tofu"]),
        country=pick(rng, COUNTRIES),
        element=pick(rng, ["copper", "nickel", "aluminium", "gold", "steel"]),
        animal=pick(rng, ["platypus", "whale", "bat", "snake", "turtle", "dolphin", "ostrich"]),
        n=rng.randint(1900, 2030),
        river=pick(rng, ["nile", "amazon", "danube", "volga"]),
        river2=pick(rng, ["rhine", "thames", "seine", "po"]),
    )
    return casing(rng, t + "?")


def review_text(rng: random.Random) -> tuple[str, str]:
    positive = rng.random() < 0.5
    adj = ADJ_POS if positive else ADJ_NEG
    kind = rng.random()
    if kind < 0.5:
        prod = pick(rng, PRODUCTS)
        title = pick(
            rng,
            ["Great buy", "Love it", "Five stars", "Does the job"]
            if positive
            else ["Waste of money", "Returned it", "Very disappointed", "Do not buy"],
        )
        sentences = [
            f"I bought this {prod} {pick(rng, ['last month', 'for my sister', 'on sale', 'for our trip'])}.",
            f"It is {pick(rng, adj)} and {pick(rng, adj)}.",
            pick(
                rng,
                [
                    "Shipping was quick.",
                    "The instructions were short.",
                    "My kids use it every day.",
                    "",
                ],
            ),
            (
                f"I would {pick(rng, ['happily buy it again', 'recommend it to anyone'])}."
                if positive
                else f"It {pick(rng, ['stopped working after a week', 'smells of plastic', 'fell apart'])}."
            ),
        ]
        return title, " ".join(s for s in sentences if s)
    movie = pick(rng, ["the film", "this movie", "the sequel", "the documentary", "the comedy"])
    body = (
        f"{movie} is {pick(rng, adj)} , with a {pick(rng, adj)} script and "
        f"{pick(rng, ['a lead who', 'a cast that', 'a director who'])} "
        + (
            pick(rng, ["never puts a foot wrong", "makes every scene sing", "earns every laugh"])
            if positive
            else pick(rng, ["seems bored throughout", "can't save it", "loses the plot early"])
        )
        + " ."
    )
    return "", body


def news_text(rng: random.Random) -> str:
    _, text = NEWS[rng.randrange(len(NEWS))]
    return text.format(
        team=pick(rng, ["Riverside United", "the Harbour Hawks", "Northgate City", "FC Lindow"]),
        team2=pick(rng, ["Eastfield Rovers", "the Valley Foxes", "Port Albion", "Kestrel Town"]),
        a=rng.randint(2, 40),
        b=rng.randint(0, 3),
        day=pick(rng, ["Monday", "Tuesday", "Thursday", "Saturday", "Sunday"]),
        co=pick(rng, ["Marlow Group", "Tessel Foods", "Brightwave", "Okafor Logistics"]),
        country=pick(rng, COUNTRIES),
        adj=pick(rng, ["solid-state", "cheap", "lightweight", "sodium-based"]),
        prod=pick(rng, ["messaging", "banking", "photo", "calendar"]),
        athlete=pick(rng, ["The world number two", "The reigning champion", "The local favourite"]),
        event=pick(rng, ["open", "grand prix", "championship", "marathon"]),
    )


def bio_text(rng: random.Random) -> str:
    return pick(rng, ENTITY_BIOS).format(
        name=pick(rng, NAMES) + " " + pick(rng, ["Varga", "Osei", "Lindqvist", "Moreau", "Tanaka"]),
        year=rng.randint(1890, 2005),
        nat=pick(rng, ["Danish", "Chilean", "Kenyan", "Scottish", "Korean", "Brazilian"]),
        job=pick(rng, ["footballer", "painter", "politician", "jazz pianist", "novelist"]),
        did=pick(
            rng,
            [
                "played for three clubs in the top division",
                "served two terms in parliament",
                "won a national award for fiction",
                "exhibited in galleries across Europe",
            ],
        ),
        place=pick(rng, ["Kolby", "San Martin de Loba", "Hallow Ridge", "Ostrava Mala"]),
        region=pick(rng, ["western", "coastal", "upper", "central"]),
        country=pick(rng, COUNTRIES),
        n=rng.randint(200, 5000),
        ship=pick(rng, ["SS Meridian", "MV Aurora Bay", "SS Caledon"]),
        co=pick(rng, ["Haldor Works", "Brisa Textiles", "Nordkap Audio"]),
        goods=pick(rng, ["kitchen appliances", "bicycle parts", "hearing aids", "paper"]),
        title=pick(rng, ["Quiet Harbour", "Paper Lanterns", "North of Nowhere"]),
        band=pick(rng, ["The Lowlands", "Glass Orchard", "Tin Sparrow"]),
        plant=pick(rng, ["alpine aster", "golden ragwort", "snow daisy"]),
    )


def sentiment(rng: random.Random) -> str:
    title, body = review_text(rng)
    head = f"Title: {title}\nReview: {body}\n" if title else body + "\n"
    question = pick(
        rng,
        [
            "Is this review positive or negative?",
            "Would you say the reviewer liked it? Answer yes or no.",
            "What is the sentiment of this review?",
            "Does this review express a positive or a negative opinion?",
            "Did the customer feel satisfied or dissatisfied?",
            "Rate the sentiment: positive, neutral or negative.",
            "Is the tone of this text favourable?",
            "Based on this review, would the user recommend the product?",
            "Classify the review as positive or negative.",
        ],
    )
    if rng.random() < 0.4:
        return f"{question}\n{head.strip()}"
    return head + question


def topic(rng: random.Random) -> str:
    text = news_text(rng) if rng.random() < 0.65 else bio_text(rng)
    question = pick(
        rng,
        [
            "What is this article about: world, sports, business or science/tech?",
            "Which topic best describes this news snippet?",
            "Choose the category of this text.",
            "What kind of entity is described here? Answer with one category.",
            "Label the topic of the passage in one word.",
            "Is this news about politics, sport, business or technology?",
            "Which section of a newspaper does this belong to?",
            "Give the category: company, artist, athlete, politician, village, album, plant.",
        ],
    )
    if rng.random() < 0.4:
        return f"{question}\n\n{text}"
    return f"{text}\n{question}"


def classify_short(rng: random.Random) -> str:
    text = pick(rng, SHORT_INPUTS)
    instruction = pick(
        rng,
        [
            "Classify the following sentence as a fact or an opinion.",
            "Is the following message spam or not spam?",
            "Identify the emotion expressed in this text.",
            "Detect the language of the input.",
            "Tell me if this statement is true or false.",
            "Is this sentence a question, a command or a statement?",
            "Decide whether the tone of this message is formal or informal.",
            "Label the sentence as positive, negative or neutral.",
            "Does the following text contain a request? Answer yes or no.",
            "Categorize this email as work, personal or promotional.",
            "Find the date mentioned in the text.",
            "Pull out the time and the room number from this message.",
            "What is the main subject of this sentence?",
        ],
    )
    joiner = pick(rng, ["\n", "\nInput: ", "\nText: ", " "])
    return f"{instruction}{joiner}{text}"


def odd_one_out(rng: random.Random) -> str:
    groups = [
        (["apple", "banana", "cherry", "pear"], "carrot"),
        (["red", "blue", "green", "yellow"], "square"),
        (["violin", "cello", "viola", "harp"], "trumpet"),
        (["Mars", "Venus", "Jupiter", "Saturn"], "Moon"),
        (["oak", "pine", "maple", "birch"], "tulip"),
        (["dog", "cat", "hamster", "rabbit"], "eagle"),
    ]
    words, odd = groups[rng.randrange(len(groups))]
    items = [*words[:3], odd]
    rng.shuffle(items)
    return pick(
        rng,
        [
            f"Which word does not belong: {', '.join(items)}?",
            f"Find the odd one out: {', '.join(items)}",
            f"Group these into two categories: {', '.join(items)}",
            f"Sort these alphabetically: {', '.join(items)}",
            f"Which of these is not like the others? {' / '.join(items)}",
        ],
    )


def extract_field(rng: random.Random) -> str:
    name = pick(rng, NAMES)
    text = pick(
        rng,
        [
            f"Hi, this is {name} from accounts, you can reach me at {name.lower()}@example.com "
            f"or on 555-{rng.randint(1000, 9999)}.",
            f"Your order #{rng.randint(10000, 99999)} will arrive on {pick(rng, ['May', 'June', 'July'])} "
            f"{rng.randint(1, 28)} between 9am and noon.",
            f"{name} booked a table for {rng.randint(2, 8)} at Luigi's on Friday at 7:30pm.",
        ],
    )
    return pick(
        rng,
        [
            f"Extract the email address from this text: {text}",
            f"What is the order number in this message? {text}",
            f"From the text below, what time is mentioned?\n{text}",
            f"Who is the sender? {text}",
            f"Pull the phone number out of: {text}",
            f"How many people is the booking for? {text}",
        ],
    )


def quick_math(rng: random.Random) -> str:
    a, b = rng.randint(3, 60), rng.randint(2, 12)
    return pick(
        rng,
        [
            f"What is the area of a square with side {b} cm?",
            f"If I have {a} {pick(rng, ITEMS)} and give away {b}, how many are left?",
            f"What is {b}/{b * 2} as a decimal?",
            f"How many minutes are in {b} hours?",
            f"What is the perimeter of a rectangle {a} m by {b} m?",
            f"What's {a}% of {b * 50}?",
            f"Round {a}.{b}{b} to one decimal place.",
            f"What is the average of {a}, {b} and {a + b}?",
            f"Which is bigger: {b}/{b + 1} or {b + 1}/{b + 2}?",
        ],
    )


# --------------------------------------------------------------------------- general


def explain(rng: random.Random) -> str:
    t = pick(rng, TOPICS_EXPLAIN)
    return casing(
        rng,
        pick(
            rng,
            [
                f"explain {t}",
                f"can you explain {t} in simple terms?",
                f"I've always wondered {t}. Can you explain it?",
                f"Explain {t} to a twelve year old.",
                f"give me a short explanation of {t}",
                f"Briefly describe {t} and why it matters.",
                f"my kid asked me {t} and I didn't know what to say, help",
                f"In a paragraph, explain {t}.",
                f"I'm studying for a test. Could you summarize {t} in a few sentences?",
                f"What's the basic idea behind {t}?",
            ],
        ),
    )


def why_q(rng: random.Random) -> str:
    return casing(rng, pick(rng, WHY_Q) + "?")


def advice(rng: random.Random) -> str:
    return casing(
        rng,
        pick(rng, ADVICE).format(
            goal=pick(rng, GOALS),
            context=pick(rng, CONTEXTS),
            rel=pick(rng, ["brother", "mum", "friend", "partner", "daughter"]),
        ),
    )


def recipe(rng: random.Random) -> str:
    d = pick(rng, DISHES)
    ing = pick(rng, ["chickpeas", "leftover rice", "chicken thighs", "spinach", "sweet potatoes"])
    return casing(
        rng,
        pick(
            rng,
            [
                f"how do i make {d}",
                f"give me a recipe for {d}",
                f"what's a good recipe for {d}",
                f"what should i make for dinner with {ing}",
                f"suggest a quick lunch using {ing}",
                f"I need a meal idea for tonight, I have {ing} and some cheese",
                f"what goes well with {d}",
                "recommend something healthy for dinner",
                "what can i cook for a vegetarian friend this weekend",
                f"how long should i bake {d} and at what temperature",
            ],
        ),
    )


def travel(rng: random.Random) -> str:
    c = pick(rng, CITIES)
    return casing(
        rng,
        pick(
            rng,
            [
                f"what are the best things to do in {c}",
                f"recommend some places to visit in {pick(rng, COUNTRIES)}",
                f"where should i go for a weekend trip from {c}",
                f"is {c} worth visiting in winter",
                f"what should i see on a 2 day trip to {c}",
                f"suggest a good beach destination for {pick(rng, ['june', 'december', 'spring'])}",
                f"what are some hidden gems in {c}",
                f"I'm going to {c} with my parents. Any tips for getting around?",
                f"what should i know before travelling to {pick(rng, COUNTRIES)}",
            ],
        ),
    )


def compare(rng: random.Random) -> str:
    a, b = PAIRS[rng.randrange(len(PAIRS))]
    return casing(
        rng,
        pick(
            rng,
            [
                f"what's the difference between {a} and {b}",
                f"compare {a} and {b}",
                f"{a} vs {b}, which is better?",
                f"should i choose {a} or {b}?",
                f"what are the pros and cons of {a} compared to {b}",
                f"how does {a} differ from {b}?",
                f"Could you briefly compare {a} with {b} for a beginner?",
            ],
        ),
    )


def short_writing(rng: random.Random) -> str:
    kind = pick(
        rng,
        [
            "a short poem",
            "a haiku",
            "a limerick",
            "a short email",
            "a thank-you note",
            "a birthday card message",
            "a short cover letter",
            "a wedding toast",
            "a tweet",
            "a product description",
            "a short story",
            "a condolence message",
            "a text message",
            "an apology letter",
            "a short speech",
            "a slogan",
            "a two-paragraph blog intro",
            "a short song",
            "a motivational quote",
            "a LinkedIn post",
        ],
    )
    about = pick(
        rng,
        [
            "about autumn",
            "for my coworker who is leaving",
            "to my landlord about a broken heater",
            "about the sea",
            "for my grandmother's 90th birthday",
            "announcing our new bakery",
            "about a lost umbrella",
            "to a customer whose order was late",
            "about friendship",
            "for a handmade ceramic mug",
            "about a dragon who is afraid of the dark",
            "inviting neighbours to a barbecue",
            "to decline a job offer politely",
            "about coffee",
            "about moving to a new city",
            "for my sister's graduation",
            "about rain on a tin roof",
            "asking my boss for Friday off",
        ],
    )
    return casing(
        rng,
        pick(
            rng,
            [
                f"write {kind} {about}",
                f"Can you write {kind} {about}?",
                f"help me write {kind} {about}",
                f"Compose {kind} {about}.",
                f"draft {kind} {about}, keep it warm and friendly",
                f"I need {kind} {about}",
                f"Write {kind} {about} in a {pick(rng, ['funny', 'formal', 'heartfelt', 'playful'])} tone.",
            ],
        ),
    )


def roleplay(rng: random.Random) -> str:
    p = pick(rng, PERSONAS)
    task = pick(
        rng,
        [
            "introduce yourself",
            "describe your typical day",
            "give me advice about my career",
            "tell me about your biggest adventure",
            "explain why I should hire you",
            "welcome me to your shop",
            "react to the news that it will rain all week",
            "ask me three questions",
            "convince me to try a new hobby",
            "describe the view from where you stand",
        ],
    )
    return casing(
        rng,
        pick(
            rng,
            [
                f"pretend you are {p} and {task}",
                f"act as {p}. {task[0].upper() + task[1:]}.",
                f"You are {p}. Stay in character and {task}.",
                f"roleplay as {p} and {task}",
                f"Imagine you're {p}. {task[0].upper() + task[1:]}, please.",
                f"As {p}, {task}.",
            ],
        ),
    )


def counterfactual(rng: random.Random) -> str:
    c = pick(rng, COUNTERFACTUAL)
    return casing(
        rng,
        pick(
            rng,
            [
                f"what if {c}?",
                f"how would the world be different if {c}?",
                f"imagine {c}. what would daily life look like?",
                f"What might have happened if {c}?",
            ],
        ),
    )


def open_q(rng: random.Random) -> str:
    return casing(rng, pick(rng, OPEN))


def humanities(rng: random.Random) -> str:
    return pick(rng, HUMANITIES).format(
        work=pick(rng, ["Macbeth", "1984", "Jane Eyre", "The Great Gatsby", "Beloved", "Hamlet"]),
        symbol=pick(rng, ["green light", "storm", "mirror", "river", "color red"]),
        event=pick(
            rng,
            [
                "the industrial revolution",
                "the meiji restoration",
                "the civil rights movement",
                "the reformation",
                "the partition of india",
                "the space race",
            ],
        ),
        idea=pick(rng, ["utilitarianism", "the social contract", "nihilism", "free will"]),
        idea2=pick(rng, ["deontology", "virtue ethics", "determinism", "existentialism"]),
        person=pick(rng, ["Freud", "Darwin", "Beethoven", "Picasso", "Confucius", "Adam Smith"]),
        field=pick(rng, ["modern thought", "art", "economics", "psychology", "music"]),
        char=pick(rng, ["the narrator", "the antagonist", "the heroine", "the father"]),
    )


def stem_explain(rng: random.Random) -> str:
    f = pick(rng, list(STEM_CONCEPTS))
    cs = STEM_CONCEPTS[f]
    return pick(rng, STEM_EXPLAIN).format(f=f, c=pick(rng, cs), c2=pick(rng, cs))


def context_advice(rng: random.Random) -> str:
    situations = [
        "My teenage son spends most evenings gaming and his grades are slipping.",
        "I just got promoted and now manage people who used to be my peers.",
        "Our small team keeps missing deadlines because priorities change every week.",
        "I moved to a new country six months ago and still feel lonely.",
        "My elderly father refuses to stop driving even though his eyesight is poor.",
        "I have two job offers: one pays more, the other has a shorter commute.",
        "My flatmate never does the dishes and it's starting to annoy me.",
        "We're expecting our first baby in three months and feel unprepared.",
        "I want to switch careers from accounting to teaching but I'm worried about money.",
        "My dog barks every time someone walks past the house.",
    ]
    asks = [
        "What would you suggest?",
        "How should I approach this?",
        "What are my options?",
        "Any advice?",
        "How can I handle this without making things worse?",
    ]
    return f"{pick(rng, situations)} {pick(rng, asks)}"


def formal_writing(rng: random.Random) -> str:
    kind = pick(rng, WRITING_KINDS)
    subject = pick(rng, WRITING_SUBJECTS)
    verb = pick(rng, ["Write", "Compose", "Draft", "Craft", "Create", "Please write"])
    extra = " ".join(rng.sample(WRITING_CONSTRAINTS, rng.randint(0, 2)))
    return f"{verb} a {kind} about {subject}. {extra}".strip()


def act_as(rng: random.Random) -> str:
    role, job, first = ACT_AS[rng.randrange(len(ACT_AS))]
    return pick(
        rng,
        [
            f"I want you to act as {role}. You will {job}. My first request: {first}.",
            f"Now you are {role}. Your task is to {job}. Let's start: {first}.",
            f"Please take on the role of {role} and {job}. Here is the situation: {first}.",
            f"Act as {role}. {first[0].upper() + first[1:]}. What would you say?",
        ],
    )


def stem_context(rng: random.Random) -> str:
    f = pick(rng, list(STEM_CONCEPTS))
    a, b = STEM_CONTEXT[rng.randrange(len(STEM_CONTEXT))]
    return f"{a.format(c=pick(rng, STEM_CONCEPTS[f]), f=f)} {b}"


def discuss(rng: random.Random) -> str:
    return pick(rng, DISCUSS).format(
        event=pick(
            rng,
            [
                "the printing press",
                "the fall of the Berlin Wall",
                "the Silk Road",
                "the invention of the telegraph",
                "the abolition movement",
                "the Great Depression",
                "the moon landing",
            ],
        ),
        field=pick(rng, ["European politics", "world trade", "journalism", "science", "art"]),
        person=pick(rng, ["Galileo", "Mary Wollstonecraft", "Gandhi", "Socrates", "Ibn Khaldun"]),
        idea=pick(rng, ["stoicism", "utilitarianism", "minimalism", "Confucian ethics"]),
        modern=pick(rng, ["social media", "workplace stress", "city planning", "parenting"]),
    )


def easy_science(rng: random.Random) -> str:
    return pick(rng, EASY_SCIENCE).format(
        year=pick(rng, ["2024", "2028", "2012", "2016"]),
        sport=pick(rng, ["rugby", "basketball", "handball", "hockey"]),
        book=pick(rng, list(FILL["book"])).title(),
        country=pick(rng, COUNTRIES),
    )


def short_tech_hard(rng: random.Random) -> str:
    return pick(
        rng,
        [
            f"How do I implement {pick(rng, ['OAuth2 login', 'rate limiting', 'pagination', 'websocket reconnects', 'a plugin system'])} in "
            f"{pick(rng, ['FastAPI', 'Express', 'Spring Boot', 'Django', 'Rails', 'Go'])}?",
            f"write a {pick(rng, ['bash', 'powershell', 'python'])} script to "
            f"{pick(rng, ['find duplicate files', 'rotate logs', 'sync two folders', 'bulk-rename photos by date'])}",
            f"In {pick(rng, PROG_LANGS)}, how can I {pick(rng, ['parse nested JSON into typed objects', 'run tasks concurrently with a timeout', 'stream a large file without loading it into memory', 'memoize a recursive function'])}? Show code.",
            f"Give me a proof that {pick(rng, ['sqrt(3) is irrational', 'there is no largest prime', 'the harmonic series diverges', 'a graph with all even degrees has an Euler circuit'])}.",
            f"Explain and implement {pick(rng, ['A* search', 'a bloom filter', 'consistent hashing', 'the Boyer-Moore majority vote', 'a red-black tree insert'])} in {pick(rng, PROG_LANGS)}.",
            f"My {pick(rng, ['pandas merge', 'Docker build', 'Kubernetes deployment', 'React app', 'Postgres query'])} is "
            f"{pick(rng, ['very slow', 'failing in CI', 'using too much memory', 'returning duplicates'])}. How do I find the cause and fix it?",
        ],
    )


# --------------------------------------------------------------------------- high-compute


def code_write(rng: random.Random) -> str:
    task = pick(rng, CODE_TASKS)
    lang = pick(rng, PROG_LANGS)
    style = rng.random()
    if style < 0.35:
        fn = "_".join(task.split()[:3]).replace(",", "").replace("-", "_")
        return (
            f"Write a {pick(rng, ['python function', 'function'])} that {task}.\n"
            f"assert {fn}({pick(rng, ['[1, 2, 3]', '10', chr(34) + 'abc' + chr(34), '(4, 6)'])}) "
            f"== {pick(rng, ['6', 'True', '[3, 2, 1]', '2'])}"
        )
    return casing(
        rng,
        pick(
            rng,
            [
                f"write a {lang} function that {task}",
                f"Write a function to {task.replace('s ', ' ', 1) if task.startswith(('checks', 'finds', 'returns', 'counts')) else task}.",
                f"Can you write {lang} code that {task}?",
                f"implement a program in {lang} that {task}",
                f"I need a {lang} script that {task}. Please include comments.",
                f"Write a {lang} class that {task}, with unit tests.",
                f"Give me an efficient {lang} solution that {task} and explain its time complexity.",
            ],
        ),
    )


def code_debug(rng: random.Random) -> str:
    lang, code = BUGGY[rng.randrange(len(BUGGY))]
    ask = pick(
        rng,
        [
            "Why doesn't this work?",
            "Find and fix the bug in this code:",
            f"This {lang} snippet misbehaves. What's wrong and how do I fix it?",
            "Can you review this code and explain the problem?",
            "I get an error when I run this. Help me debug it.",
            "Refactor this and fix any bugs:",
        ],
    )
    fence = rng.random() < 0.5
    body = f"```{lang}\n{code}\n```" if fence else code
    return f"{ask}\n{body}"


def word_problem(rng: random.Random) -> str:
    n1, n2 = pick(rng, NAMES), pick(rng, NAMES)
    item = pick(rng, ITEMS)
    a, b, c, d = rng.randint(3, 40), rng.randint(2, 12), rng.randint(2, 9), rng.randint(10, 90)
    price = rng.choice([0.5, 1.25, 2, 3.5, 4, 6, 12, 15])
    templates = [
        f"{n1} has {a} {item}. {n2} has {b} times as many. If they give away {c} each, how many "
        f"{item} do they have together?",
        f"{n1} buys {a} {item} at ${price} each and pays with a ${d * 2} bill. How much change "
        f"does {n1} get?",
        f"A bakery makes {a * 10} {item} a day. It sells {d}% of them in the morning and half of "
        f"the rest in the afternoon. How many are left at the end of the day?",
        f"{n1} runs {b} miles on weekdays and {c} miles on Saturday. How many miles does "
        f"{n1} run in {c} weeks?",
        f"A school trip needs {a * 3} students to travel in buses that hold {b + 20} students "
        f"each. Each bus costs ${d * 10}. What is the total cost of the buses?",
        f"{n1} is {b} years older than {n2}. In {c} years, {n1} will be twice as old as {n2} was "
        f"{b} years ago. How old is {n2} now?",
        f"A garden is {a} meters long and {b + 3} meters wide. {n1} wants to put a fence around "
        f"it that costs ${c} per meter, leaving a {2 if b > 5 else 1}-meter gap for a gate. How "
        f"much will the fence cost?",
        f"{n1} earns ${d} per hour and works {b} hours a day, {c % 5 + 2} days a week. After "
        f"paying {rng.randint(10, 30)}% tax, how much does {n1} take home in a month of 4 weeks?",
        f"There are {a} {item} in a box. {n1} takes a third of them, then {n2} takes {c} more. "
        f"If the box started with {a * 3} {item}, how many remain?",
        f"A car travels {d * 2} km at {b * 10} km/h and then {a} km at {c * 10 + 20} km/h. What "
        f"is its average speed for the whole trip?",
        f"{n1} saves ${b} every week. {n2} starts with ${d} and saves ${c} a week. After how "
        f"many weeks will they have the same amount?",
        f"A recipe for {c} people uses {b} cups of flour and {a} grams of butter. How much of "
        f"each is needed for {c * 3 + 1} people?",
        f"In a class of {a + 20}, {d % 50 + 20}% of students walk to school, a quarter of the "
        f"rest take the bus, and the others are driven. How many students are driven?",
        f"{n1} bought {b} boxes of {item} with {c} in each box. {n1} kept {a % 10 + 1} and "
        f"shared the rest equally among {c - 1 if c > 2 else 2} friends. How many did each "
        f"friend get?",
        f"A shop sold {a} {item} on Monday, {b} more on Tuesday than on Monday, and twice "
        f"Tuesday's number on Wednesday. Each costs ${price}. How much money did the shop make?",
        f"{n1} reads {b * 5} pages a day. The book has {d * 10} pages. After {c} days, {n1} "
        f"speeds up to {b * 8} pages a day. How many days in total does it take to finish?",
        f"A water tank holds {d * 10} liters. It leaks {b} liters an hour while a pipe adds "
        f"{c + b} liters an hour. Starting half full, how long until it is full?",
    ]
    text = pick(rng, templates)
    if rng.random() < 0.2:
        text += pick(rng, [" Show your work.", " Explain step by step.", " Answer with a number."])
    return text


def math_problem(rng: random.Random) -> str:
    a, b, c, d = rng.randint(2, 12), rng.randint(1, 15), rng.randint(2, 14), rng.randint(1, 20)
    return pick(rng, MATH).format(
        a=a,
        b=b,
        c=c,
        d=d,
        s=a + c,
        p=a * c,
        a2=a + b,
        word=pick(rng, ["BANANA", "MISSISSIPPI", "LETTER", "STATISTICS", "COFFEE"]),
        big=rng.randint(200, 5000),
    )


def puzzle(rng: random.Random) -> str:
    names = rng.sample(NAMES, 4)
    return pick(rng, PUZZLES).format(n1=names[0], n2=names[1], n3=names[2], n4=names[3])


def fermi(rng: random.Random) -> str:
    q = pick(rng, FERMI).format(c=pick(rng, CITIES), country=pick(rng, COUNTRIES))
    return pick(
        rng,
        [
            f"Estimate {q}. Walk me through your reasoning step by step.",
            f"Roughly {q}? Explain your estimate step-by-step.",
            f"Can you make a Fermi estimate of {q}? Show each assumption.",
        ],
    )


def long_report(rng: random.Random) -> str:
    subject = pick(
        rng,
        [
            "the impact of automation on manufacturing jobs",
            "water scarcity in South Asia",
            "the history of the European Union",
            "microplastics in the ocean",
            "the economics of renewable energy",
            "urban heat islands",
            "remote work and productivity",
            "the rise of electric aviation",
            "food security in sub-Saharan Africa",
            "the ethics of gene editing",
        ],
    )
    return casing(
        rng,
        pick(
            rng,
            [
                f"write a {rng.choice([1500, 2000, 3000, 5000])}-word essay on {subject}",
                f"Write a detailed research report on {subject} with an introduction, literature "
                "review, analysis and recommendations.",
                f"produce a comprehensive white paper on {subject}, with citations and an "
                "executive summary",
                f"Write a long-form article on {subject} covering history, current state, key "
                "players and future outlook. Use headings.",
                f"Draft a policy brief on {subject} with sections on background, options, costs "
                "and a recommended course of action.",
            ],
        ),
    )


def planning(rng: random.Random) -> str:
    return pick(
        rng,
        [
            f"Plan a {rng.randint(7, 21)}-day itinerary through {pick(rng, COUNTRIES)} for two "
            f"people on a budget of ${rng.randint(2, 9)}000, with day-by-day activities, transport "
            "and accommodation.",
            "Create a detailed 16-week study plan for passing the CFA level 1 exam, with weekly "
            "topics and practice milestones.",
            "Design a complete onboarding program for new software engineers, covering the first "
            "90 days week by week.",
            f"Make a project plan for launching an online store for {pick(rng, ITEMS)}: tasks, "
            "dependencies, timeline, budget and risks.",
            "Plan the migration of a company's on-premise email and file servers to the cloud for "
            "300 staff, with phases, rollback steps and a communication plan.",
            "Build a weekly meal plan for a family of five with a shopping list, a budget of $150 "
            "and nutritional balance for each day.",
            "Create a marketing strategy for a new board game café, including target audience, "
            "channels, a 6-month calendar and KPIs.",
            "Design a disaster recovery plan for a hospital's IT systems with RTO/RPO targets.",
        ],
    )


def system_design(rng: random.Random) -> str:
    system = pick(
        rng,
        [
            "a URL shortener",
            "a ride-sharing dispatch service",
            "a chat application for 10 million users",
            "a distributed job scheduler",
            "an online auction site",
            "a news feed ranking service",
            "a multi-tenant SaaS billing system",
            "a real-time leaderboard",
        ],
    )
    return pick(
        rng,
        [
            f"Design {system}. Cover the data model, APIs, scaling, caching and failure handling.",
            f"How would you architect {system}? Discuss trade-offs between consistency and "
            "availability.",
            f"I'm building {system} with {pick(rng, ['Postgres', 'Kafka', 'Redis', 'DynamoDB'])}. "
            "Walk me through a production-ready design, including the schema and the code for the "
            "core service.",
            f"Write a Terraform configuration and Kubernetes manifests to deploy {system} on AWS.",
        ],
    )


def tech_hard(rng: random.Random) -> str:
    return pick(rng, TECH_HARD)


def table_analysis(rng: random.Random) -> str:
    rows = []
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"][: rng.randint(3, 6)]
    regions = rng.sample(["North", "South", "East", "West", "Central"], rng.randint(2, 3))
    for m in months:
        for r in regions:
            rows.append(f"{m} | {r} | {rng.randint(50, 400)} | {rng.randint(2, 60) * 1000}")
    table = "Month | Region | Units | Revenue\n" + "\n".join(rows)
    ask = pick(
        rng,
        [
            "Calculate the month-over-month growth for each region and identify the trend.",
            "Which region has the highest revenue per unit? Forecast next month's revenue.",
            "Summarize this data, compute averages and point out any anomalies.",
            "Build a pivot by region and month, then recommend where to invest marketing spend.",
            "Compute the correlation between units and revenue and explain what it means.",
        ],
    )
    if rng.random() < 0.5:
        return f"{ask}\n\n{table}"
    return f"Here is our sales data:\n{table}\n\n{ask}"


def complex_format(rng: random.Random) -> str:
    subject = pick(
        rng, ["the planets", "ten famous novels", "European capitals", "cloud providers"]
    )
    return pick(
        rng,
        [
            f"Create a markdown table comparing {subject} across five attributes, then write a "
            "paragraph of analysis below it.",
            f"Output a JSON array describing {subject}; each object must have name, year, three "
            "tags and a nested stats object. No prose.",
            f"Write a LaTeX document with a title, abstract and a table summarizing {subject}.",
            f"Generate a YAML configuration for {subject} following this schema, and validate "
            "every field: name (string), size (int), tags (list).",
            f"Write an acrostic poem about {subject} where each line starts with the letters of "
            "PLANET and has exactly eight syllables, then explain the meter.",
        ],
    )


def long_text(rng: random.Random, words: int) -> str:
    docs = []
    count = 0
    while count < words:
        doc = [
            f"{pick(rng, CITIES)} ({pick(rng, ['AP', 'Reuters', 'staff report'])}) - "
            + news_text(rng)
        ]
        for _ in range(rng.randint(5, 10)):
            doc.append(pick(rng, SENTENCES))
        text = " ".join(doc)
        docs.append(text)
        count += len(text.split())
    sep = pick(rng, ["\n\n", "\n|||||\n", "\n\nDocument:\n", "\n---\n"])
    return sep.join(docs)


def multi_doc_summary(rng: random.Random) -> str:
    text = long_text(rng, rng.randint(500, 900))
    ask = pick(
        rng,
        [
            "Summarize the articles above in one paragraph.",
            "What are the key points of these documents?",
            "Write a concise summary combining all of these reports.",
            "Distill the main facts from these news stories.",
            "Synthesize these articles into a single short news brief.",
            "Give me a short summary of what happened, drawing on every article.",
        ],
    )
    if rng.random() < 0.5:
        return f"{ask}\n\n{text}"
    return f"{text}\n\n{ask}"


def long_doc_analysis(rng: random.Random) -> str:
    text = long_text(rng, rng.randint(400, 700))
    return (
        pick(
            rng,
            [
                "Read the following reports and analyse how the officials' positions differ, "
                "citing the text:",
                "Identify every claim in these documents that needs fact-checking and explain why:",
                "Turn these notes into a structured briefing with headings and bullet points:",
            ],
        )
        + "\n\n"
        + text
    )


# --------------------------------------------------------------------------- assembly

# -- round 3: more registers for the label descriptions ---------------------------------


def quiz(rng: random.Random) -> str:
    question, options = pick(rng, QUIZ)
    shuffled = rng.sample(options, len(options))
    style = rng.random()
    if style < 0.4:
        letters = " ".join(f"{'ABCD'[i]}) {o}" for i, o in enumerate(shuffled))
        return f"{question} {letters}"
    if style < 0.7:
        return f"{question} " + ", ".join(shuffled[:-1]) + f" or {shuffled[-1]}?"
    return f"Quick quiz: {question[0].lower()}{question[1:]} Options: " + "; ".join(shuffled)


def function_value(rng: random.Random) -> str:
    a, b, c, x = rng.randint(2, 9), rng.randint(1, 9), rng.randint(0, 9), rng.randint(1, 5)
    name = pick(rng, ["f", "g", "h"])
    return pick(
        rng,
        [
            f"{name}(x) = {a}x + {b}. What is {name}({x})?",
            f"If {name}(x) = {a}x^2 - {b}, find {name}({x}).",
            f"Evaluate {a}x - {b} when x = {x}.",
            f"What is the value of y = {a}x + {c} at x = {x}?",
            f"Solve for x: x + {a} = {a + b + x}",
            f"Simplify {a}x + {b}x.",
        ],
    )


def one_step_problem(rng: random.Random) -> str:
    a, b = rng.randint(2, 12), rng.randint(3, 40)
    item = pick(rng, ITEMS)
    name = pick(rng, NAMES)
    return pick(
        rng,
        [
            f"{name} buys {a} {item} at ${b} each. How much does {name} pay?",
            f"A box holds {a} {item}. How many {item} are in {b} boxes?",
            f"{a * b} {item} are shared equally among {a} children. How many does each child get?",
            f"A square garden has sides of {b} m. What is its perimeter?",
            f"A film starts at 7:{b:02d} pm and lasts {a * 10} minutes. Is it over by 10 pm?",
            f"What is {a}0% of {b * 10}?",
            f"If a ticket costs €{b} and I have €{a * b}, how many tickets can I buy?",
        ],
    )


def common_sense(rng: random.Random) -> str:
    return casing(rng, pick(rng, COMMON_SENSE))


def sport_lit_science(rng: random.Random) -> str:
    text = pick(rng, FACTS_SPORT_LIT).format(
        team=pick(rng, ["football", "basketball", "volleyball", "rugby union", "hockey"]),
        ball=pick(rng, ["football", "cricket", "ice hockey"]),
        book=pick(rng, list(FILL["book"])).title(),
        country=pick(rng, COUNTRIES),
    )
    return casing(rng, text)


def formal_analysis(rng: random.Random) -> str:
    context = pick(rng, ANALYSIS_CONTEXT).format(trend=pick(rng, TRENDS))
    opener = pick(
        rng,
        [
            "",
            "As a student of economics, ",
            "For a class discussion, ",
            "From a sociological point of view, ",
            "In your own words, ",
        ],
    )
    ask = pick(rng, ANALYSIS_ASK)
    if opener:
        ask = opener + ask[0].lower() + ask[1:]
    return f"{context} {ask}"


def concept_contrast(rng: random.Random) -> str:
    a, b = pick(rng, CONCEPT_PAIRS)
    return pick(
        rng,
        [
            f"{a[0].upper() + a[1:]} and {b} are often confused. Explain how they differ and give an example of each.",
            f"What is the difference between {a} and {b}, and why does it matter in practice?",
            f"Compare {a} with {b}. Which is more relevant to everyday life, and why?",
            f"Could you explain {a} and {b} to a first-year university student, with one real-world example?",
        ],
    )


def persona_chat(rng: random.Random) -> str:
    who = pick(rng, FICTIONAL)
    topic = pick(
        rng,
        [
            "whether smartphones make people happier",
            "the best way to spend a rainy Sunday",
            "what makes a good friend",
            "modern fashion",
            "the importance of a good breakfast",
            "why people love cats",
        ],
    )
    return pick(
        rng,
        [
            f"Take on the persona of {who} for this conversation. What is your view on {topic}?",
            f"Stay in character as {who}. Let's talk about {topic}.",
            f"You are {who}. Give me your honest opinion on {topic}.",
            f"Respond as {who} would: what do you think about {topic}?",
        ],
    )


def expert_question(rng: random.Random) -> str:
    topic = pick(rng, EXPERT_TOPICS)
    return pick(
        rng,
        [
            f"What are the state-of-the-art techniques for {topic}? Compare their trade-offs.",
            f"I'm an engineer working on {topic}. Walk me through the main approaches and when each one wins.",
            f"Give an in-depth technical overview of {topic}, with the pitfalls experts watch for.",
            f"What would a rigorous, step-by-step plan for {topic} look like?",
            f"Explain the hardest open problems in {topic} and how practitioners work around them.",
        ],
    )


GENERATORS: dict[str, list[tuple[Gen, int]]] = {
    "fast-path": [
        (greeting, 30),
        (small_talk, 45),
        (definition, 45),
        (arithmetic, 45),
        (conversion, 45),
        (spelling, 30),
        (translate, 45),
        (trivia, 120),
        (easy_knowledge, 60),
        (yes_no, 30),
        (sentiment, 60),
        (topic, 50),
        (classify_short, 45),
        (odd_one_out, 15),
        (extract_field, 25),
        (quick_math, 30),
        (easy_science, 45),
        (quiz, 40),
        (function_value, 40),
        (one_step_problem, 50),
        (common_sense, 18),
        (sport_lit_science, 60),
    ],
    "general": [
        (explain, 90),
        (why_q, 40),
        (advice, 80),
        (recipe, 45),
        (travel, 45),
        (compare, 60),
        (short_writing, 90),
        (roleplay, 70),
        (counterfactual, 30),
        (open_q, 40),
        (humanities, 50),
        (stem_explain, 40),
        (context_advice, 35),
        (formal_writing, 110),
        (act_as, 45),
        (stem_context, 45),
        (discuss, 50),
        (formal_analysis, 90),
        (concept_contrast, 60),
        (persona_chat, 40),
    ],
    "high-compute": [
        (code_write, 130),
        (code_debug, 50),
        (word_problem, 130),
        (math_problem, 70),
        (puzzle, 30),
        (fermi, 25),
        (long_report, 40),
        (planning, 30),
        (system_design, 30),
        (tech_hard, 20),
        (short_tech_hard, 70),
        (table_analysis, 30),
        (complex_format, 25),
        (multi_doc_summary, 40),
        (long_doc_analysis, 15),
        (expert_question, 60),
    ],
}


def generate(seed: int = 5) -> list[tuple[str, str, str]]:
    """(lane, group, text) rows, deduplicated, in a stable order; ``group`` is the name of
    the template that wrote the text."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    for lane, gens in GENERATORS.items():
        for gen, count in gens:
            attempts = 0
            made = 0
            while made < count and attempts < count * 5:
                attempts += 1
                text = gen(rng).strip()
                key = " ".join(text.lower().split())
                if key in seen:
                    continue
                seen.add(key)
                out.append((lane, gen.__name__, text))
                made += 1
    return out


def main() -> None:
    rows = generate()
    with OUT.open("w", encoding="utf-8") as handle:
        for lane, group, text in rows:
            row = {"lane": lane, "group": group, "text": text}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for lane, _, _ in rows:
        counts[lane] = counts.get(lane, 0) + 1
    print(f"wrote {len(rows)} examples to {OUT}: {counts}")


if __name__ == "__main__":
    main()
