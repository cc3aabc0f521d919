# ruff: noqa: E501  (template vocabularies read better unwrapped)
"""Generate the templated part of the example bank (``examples/generated.jsonl``).

    python -m classifier.bankgen            # rewrite classifier/examples/generated.jsonl

Every row of the label table in ``CLASSIFIER-LABELS.md`` gets templates x vocabularies
written for laneway, in several registers (terse chat, formal instruction, instruction
with pasted input, multi-sentence context). Nothing here is copied from an evaluation
set: names, numbers, reviews and news snippets are invented. The output is
deterministic (fixed seed), so the bank file only changes when this file does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

OUT = Path(__file__).resolve().parent / "examples" / "generated.jsonl"
PER_GENERATOR = 40

Gen = Callable[[random.Random], str]
T = TypeVar("T")


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


NAMES = [
    "Ava",
    "Mia",
    "Noah",
    "Liam",
    "Omar",
    "Priya",
    "Chen",
    "Sofia",
    "Mateo",
    "Hana",
    "Kofi",
    "Elena",
    "Jonas",
    "Leila",
    "Ravi",
    "Nina",
    "Tariq",
    "Grace",
    "Diego",
    "Yuki",
    "Ines",
    "Marco",
    "Aisha",
    "Ben",
    "Clara",
    "Sam",
    "Tomas",
    "Zara",
    "Felix",
    "Maya",
    "Arjun",
    "Lucy",
    "Emeka",
]
ITEMS = [
    "apples",
    "cupcakes",
    "stickers",
    "marbles",
    "notebooks",
    "cookies",
    "postcards",
    "pencils",
    "tomatoes",
    "eggs",
    "bracelets",
    "candles",
    "seashells",
    "comic",
    "books",
    "oranges",
    "muffins",
    "balloons",
    "tickets",
]
CITIES = [
    "Lisbon",
    "Kyoto",
    "Nairobi",
    "Lima",
    "Oslo",
    "Hanoi",
    "Krakow",
    "Montreal",
    "Seville",
    "Cape Town",
    "Melbourne",
    "Tbilisi",
    "Edinburgh",
    "Marrakesh",
    "Bogota",
    "Vancouver",
    "Porto",
    "Istanbul",
    "Reykjavik",
    "Chiang Mai",
]
COUNTRIES = [
    "Peru",
    "Norway",
    "Kenya",
    "Vietnam",
    "Portugal",
    "Chile",
    "Iceland",
    "Morocco",
    "Thailand",
    "Poland",
    "Canada",
    "Ghana",
    "Greece",
    "Mongolia",
    "Finland",
    "Argentina",
    "Nepal",
    "Egypt",
    "Ireland",
    "Indonesia",
    "Croatia",
    "Uruguay",
    "Laos",
]
LANGS = [
    "French",
    "Spanish",
    "German",
    "Italian",
    "Japanese",
    "Portuguese",
    "Korean",
    "Dutch",
    "Swedish",
    "Turkish",
    "Polish",
    "Greek",
    "Hindi",
    "Arabic",
    "Mandarin",
    "Russian",
    "Swahili",
    "Vietnamese",
]
PROG_LANGS = [
    "Python",
    "JavaScript",
    "TypeScript",
    "Java",
    "C++",
    "C#",
    "Go",
    "Rust",
    "Kotlin",
    "Swift",
    "Ruby",
    "PHP",
    "Scala",
    "C",
]

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


WORDS = [
    "serendipity",
    "ephemeral",
    "ubiquitous",
    "quixotic",
    "gregarious",
    "pragmatic",
    "ambivalent",
    "laconic",
    "melancholy",
    "nostalgia",
    "entropy",
    "photosynthesis",
    "osmosis",
    "algorithm",
    "metaphor",
    "irony",
    "sarcasm",
    "euphemism",
    "hypothesis",
    "catalyst",
    "inflation",
    "mortgage",
    "dividend",
    "equity",
    "bandwidth",
    "latency",
    "empathy",
    "resilience",
    "procrastination",
    "hubris",
    "zeitgeist",
    "schadenfreude",
    "wanderlust",
    "benevolent",
    "candid",
    "diligent",
    "eloquent",
    "frugal",
    "meticulous",
    "obsolete",
    "plausible",
    "reluctant",
    "tenacious",
    "verbose",
    "whimsical",
    "onomatopoeia",
    "alliteration",
    "palindrome",
    "oxymoron",
    "sonnet",
    "peninsula",
    "archipelago",
    "tundra",
    "savanna",
    "estuary",
    "fjord",
    "delta",
    "glacier",
    "monsoon",
    "equinox",
    "mitochondria",
    "enzyme",
    "protein",
    "genome",
    "vaccine",
    "antibody",
    "placebo",
    "biopsy",
    "allergy",
]


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


UNITS = [
    ("miles", "kilometers"),
    ("kilometers", "miles"),
    ("pounds", "kilograms"),
    ("kilograms", "pounds"),
    ("inches", "centimeters"),
    ("feet", "meters"),
    ("meters", "feet"),
    ("cups", "milliliters"),
    ("ounces", "grams"),
    ("gallons", "liters"),
    ("liters", "gallons"),
    ("degrees fahrenheit", "celsius"),
    ("degrees celsius", "fahrenheit"),
    ("hours", "minutes"),
    ("days", "hours"),
    ("yards", "meters"),
    ("tablespoons", "teaspoons"),
    ("quarts", "cups"),
    ("stone", "kilograms"),
    ("acres", "hectares"),
]


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


MISSPELLED = [
    "recieve",
    "definately",
    "seperate",
    "occured",
    "accomodate",
    "untill",
    "wierd",
    "goverment",
    "enviroment",
    "tommorow",
    "begining",
    "beleive",
    "calender",
    "concious",
    "embarass",
    "existance",
    "foriegn",
    "harrass",
    "independant",
    "liason",
    "millenium",
    "neccessary",
    "occassion",
    "persue",
    "publically",
    "rythm",
]
SPELL = [
    "necessary",
    "rhythm",
    "conscientious",
    "bureaucracy",
    "Mississippi",
    "restaurant",
    "entrepreneur",
    "questionnaire",
    "pharaoh",
    "silhouette",
    "colonel",
    "chrysanthemum",
    "maneuver",
    "renaissance",
]


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


PHRASES = [
    "good morning",
    "where is the train station",
    "thank you very much",
    "I love you",
    "how much does this cost",
    "the bill, please",
    "I am lost",
    "happy birthday",
    "see you tomorrow",
    "nice to meet you",
    "excuse me",
    "I don't understand",
    "cheers",
    "where is the bathroom",
    "my name is Anna",
    "I would like a coffee",
    "cat",
    "window",
    "library",
    "butterfly",
    "good luck",
    "welcome",
    "the weather is nice today",
]


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


TRIVIA = [
    "who wrote {book}",
    "who is the author of {book}",
    "when was {book} published",
    "who played {role} in {film}",
    "who directed {film}",
    "when did {film} come out",
    "where was {film} filmed",
    "who sings {song}",
    "who sang {song} originally",
    "when did {song} come out",
    "what is the capital of {country}",
    "what currency does {country} use",
    "what language do they speak in {country}",
    "when did {country} become independent",
    "who is the current president of {country}",
    "what is the population of {city}",
    "where is {landmark} located",
    "when was {landmark} built",
    "who designed {landmark}",
    "how tall is {landmark}",
    "who invented the {invention}",
    "when was the {invention} invented",
    "who won the {year} {event}",
    "where was the {year} {event} held",
    "who was the first {office}",
    "how many {unit} are in a {bigger}",
    "what is the largest {thing} in the world",
    "what is the longest {thing} in {country}",
    "who discovered {discovery}",
    "what year did {historic} happen",
    "when did {historic} end",
    "how many players are on a {sport} team",
    "who has won the most {award}s",
    "what is the chemical symbol for {element}",
    "what is the atomic number of {element}",
    "where does the {river} river start",
    "which ocean is {island} in",
    "what is the highest mountain in {country}",
    "who founded {company}",
    "where is the headquarters of {company}",
    "what is the name of {character}'s {relative}",
    "what breed of dog is {character}",
    "how many episodes are in season {n} of {show}",
    "who plays {role} on {show}",
    "when does season {n} of {show} come out",
    "what channel is {show} on",
    "what position does {athlete} play",
    "what team does {athlete} play for",
    "how old was {person} when they died",
    "where was {person} born",
    "what is {person} famous for",
]
FILL = {
    "book": [
        "the hobbit",
        "pride and prejudice",
        "one hundred years of solitude",
        "the great gatsby",
        "moby dick",
        "the kite runner",
        "dune",
        "the hunger games",
        "frankenstein",
        "to the lighthouse",
        "the road",
        "little women",
        "the alchemist",
    ],
    "role": ["the villain", "the lead", "the mother", "the detective", "the king", "young simba"],
    "film": [
        "jurassic park",
        "the godfather",
        "spirited away",
        "titanic",
        "inception",
        "casablanca",
        "the matrix",
        "black panther",
        "up",
        "gladiator",
        "amelie",
        "rocky",
    ],
    "song": [
        "hotel california",
        "bohemian rhapsody",
        "rolling in the deep",
        "hey jude",
        "purple rain",
        "dancing queen",
        "hallelujah",
        "wonderwall",
        "respect",
        "yellow",
        "africa",
    ],
    "country": COUNTRIES,
    "city": CITIES,
    "landmark": [
        "the taj mahal",
        "machu picchu",
        "the golden gate bridge",
        "angkor wat",
        "the colosseum",
        "stonehenge",
        "the sydney opera house",
        "big ben",
        "the leaning tower of pisa",
        "christ the redeemer",
        "petra",
        "the alhambra",
        "mount rushmore",
    ],
    "invention": [
        "telephone",
        "light bulb",
        "printing press",
        "television",
        "airplane",
        "bicycle",
        "microwave oven",
        "world wide web",
        "steam engine",
        "radio",
        "zipper",
        "refrigerator",
    ],
    "year": [str(y) for y in range(1966, 2023, 3)],
    "event": [
        "world cup",
        "super bowl",
        "tour de france",
        "wimbledon men's final",
        "eurovision song contest",
        "nba finals",
        "stanley cup",
        "champions league final",
        "oscar for best picture",
        "nobel peace prize",
        "boston marathon",
    ],
    "office": [
        "president of the united states",
        "woman in space",
        "prime minister of india",
        "person to walk on the moon",
        "emperor of rome",
        "secretary general of the un",
        "person to reach the south pole",
    ],
    "unit": ["ounces", "feet", "cups", "grams", "seconds", "teaspoons", "centimeters"],
    "bigger": ["pound", "mile", "gallon", "kilogram", "day", "cup", "meter"],
    "thing": ["desert", "river", "lake", "waterfall", "island", "bridge", "cave", "volcano"],
    "discovery": [
        "penicillin",
        "gravity",
        "the electron",
        "dna's structure",
        "radium",
        "pluto",
        "insulin",
        "x-rays",
    ],
    "historic": [
        "the fall of the berlin wall",
        "the moon landing",
        "the battle of hastings",
        "the first world war",
        "the great fire of london",
        "the american civil war",
        "the french revolution",
        "the boston tea party",
    ],
    "sport": ["soccer", "basketball", "rugby", "volleyball", "baseball", "hockey", "cricket"],
    "award": ["grammy", "oscar", "ballon d'or", "olympic gold medal", "tony award"],
    "element": ["gold", "iron", "sodium", "potassium", "silver", "tin", "lead", "mercury"],
    "river": ["nile", "amazon", "danube", "mississippi", "thames", "ganges", "rhine", "yangtze"],
    "island": ["madagascar", "tasmania", "sri lanka", "fiji", "iceland", "bermuda", "zanzibar"],
    "company": ["nike", "ikea", "toyota", "samsung", "lego", "spotify", "nintendo", "adidas"],
    "character": ["harry potter", "homer simpson", "sherlock holmes", "scooby doo", "shrek"],
    "relative": ["father", "sister", "best friend", "uncle", "first wife"],
    "n": ["2", "3", "4", "5", "6"],
    "show": [
        "friends",
        "the office",
        "grey's anatomy",
        "the crown",
        "game of thrones",
        "breaking bad",
        "the simpsons",
        "doctor who",
        "ted lasso",
        "stranger things",
    ],
    "athlete": ["lionel messi", "serena williams", "lebron james", "usain bolt", "tom brady"],
    "person": [
        "mozart",
        "frida kahlo",
        "nelson mandela",
        "marie curie",
        "vincent van gogh",
        "charles darwin",
        "cleopatra",
        "ada lovelace",
    ],
}


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


EASY_KNOWLEDGE = [
    "What is the boiling point of water at sea level in Celsius?",
    "Which planet is closest to the sun?",
    "How many sides does a hexagon have?",
    "What is the plural of 'goose'?",
    "Who painted the Mona Lisa?",
    "What is the freezing point of water in Fahrenheit?",
    "How many continents are there?",
    "What is the opposite of 'ancient'?",
    "In which sport do players use a shuttlecock?",
    "How many points is a touchdown worth in American football?",
    "How long is a football (soccer) match?",
    "Which gas do humans breathe out?",
    "What is the unit of electrical resistance?",
    "What force keeps us on the ground?",
    "What is the speed of light, roughly?",
    "Who is the main character of 'The Odyssey'?",
    "Who wrote the play 'Hamlet'?",
    "What is a haiku?",
    "Which instrument has 88 keys?",
    "What colour do you get by mixing blue and yellow?",
    "How many legs does a spider have?",
    "Is a tomato a fruit or a vegetable?",
    "What is the largest mammal?",
    "What is 7 times 8?",
    "What is the next prime number after 13?",
    "What is the value of pi to two decimal places?",
    "How many degrees are in a right angle?",
    "What is the square root of 144?",
    "Which is larger, 0.5 or 0.45?",
    "What does 'bonjour' mean in English?",
    "How do you say 'thank you' in Japanese?",
    "What language is spoken in Brazil?",
    "Which country has the most people?",
    "How many rings are on the Olympic flag?",
    "Which country won the first FIFA World Cup?",
    "Who is known as the king of pop?",
    "Who composed the Moonlight Sonata?",
    "What is the main ingredient in guacamole?",
    "What do bees collect from flowers?",
    "Which animal is known as the ship of the desert?",
    "Can penguins fly?",
    "Do fish sleep?",
    "Is the sun a star?",
    "Is Pluto still a planet?",
    "Does sound travel faster in water or in air?",
    "Which is heavier, a liter of water or a liter of oil?",
    "What is the hardest natural substance?",
    "What is the tallest animal?",
    "How many bones are in the adult human body?",
    "In which year did the Titanic sink?",
    "Which metal is liquid at room temperature?",
    "What do you call a baby kangaroo?",
    "What is the capital of Australia?",
    "Who wrote the Harry Potter books?",
    "What is the name of the fairy in Peter Pan?",
    "Wie spät ist es in Tokio, wenn es in Berlin Mittag ist?",
    "¿Cuál es el río más largo de España?",
    "Quelle est la capitale du Canada ?",
    "Come si dice 'buongiorno' in inglese?",
    "Qual é a cor do céu?",
    "¿Cuántos días tiene una semana?",
    "Was ist die Hauptstadt von Österreich?",
    "Comment dit-on 'merci' en espagnol ?",
    "日本の首都はどこですか?",
    "¿Quién escribió Don Quijote?",
    "Hoeveel poten heeft een kat?",
]


def easy_knowledge(rng: random.Random) -> str:
    return pick(rng, EASY_KNOWLEDGE)


YESNO = [
    "is it safe to eat raw {food}",
    "can dogs eat {food}",
    "is {food} gluten free",
    "does {food} have caffeine",
    "is {country} in europe",
    "is {element} magnetic",
    "do {animal}s lay eggs",
    "are {animal}s mammals",
    "can {animal}s swim",
    "is {n} a leap year",
    "is it legal to drive at 17 in {country}",
    "is the {river} longer than the {river2}",
]


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


ADJ_POS = [
    "wonderful",
    "sturdy",
    "delightful",
    "reliable",
    "gorgeous",
    "well made",
    "charming",
    "moving",
    "clever",
    "excellent",
    "comfortable",
    "funny",
]
ADJ_NEG = [
    "flimsy",
    "boring",
    "disappointing",
    "overpriced",
    "broken",
    "clumsy",
    "tedious",
    "noisy",
    "cheap-feeling",
    "confusing",
    "predictable",
    "useless",
]
PRODUCTS = [
    "blender",
    "phone case",
    "desk lamp",
    "backpack",
    "coffee grinder",
    "yoga mat",
    "board game",
    "toaster",
    "pair of headphones",
    "cookbook",
    "water bottle",
    "vacuum cleaner",
    "tent",
]


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


NEWS = [
    (
        "sports",
        "{team} beat {team2} {a}-{b} on {day} to move top of the league, with a late goal from "
        "their captain sealing the win in front of a sold-out crowd.",
    ),
    (
        "business",
        "Shares in {co} rose {a} percent on {day} after the retailer reported higher than "
        "expected quarterly profits and raised its forecast for the year.",
    ),
    (
        "world",
        "Thousands of people marched through the capital of {country} on {day} to protest "
        "against a planned rise in fuel prices, police said.",
    ),
    (
        "science/tech",
        "Researchers have unveiled a {adj} battery that charges in {a} minutes, a development "
        "that could speed up the adoption of electric vehicles, the team said on {day}.",
    ),
    (
        "science/tech",
        "The software company released an update to its {prod} app on {day}, fixing a security "
        "flaw that let attackers read private messages.",
    ),
    (
        "world",
        "Floods in northern {country} have forced {a} hundred families from their homes, and "
        "aid agencies say more rain is expected this week.",
    ),
    (
        "business",
        "{co} agreed on {day} to buy a smaller rival for {a} million dollars, the latest deal in "
        "a wave of consolidation in the shipping industry.",
    ),
    (
        "sports",
        "{athlete} withdrew from the {event} on {day} with a knee injury, ending hopes of a "
        "third straight title.",
    ),
]


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


ENTITY_BIOS = [
    "{name} (born {year}) is a {nat} {job} who {did}.",
    "{place} is a small village in the {region} district of {country}, with a population of "
    "about {n} people.",
    "The {ship} was a {nat} passenger ship launched in {year} and scrapped in the 1960s.",
    "{co} is a {nat} company founded in {year} that makes {goods}.",
    "'{title}' is the third studio album by the {nat} band {band}, released in {year}.",
    "The {plant} is a flowering plant in the daisy family, native to the mountains of {country}.",
]


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


SHORT_INPUTS = [
    "I can't believe the train was late again, this is the third time this week!",
    "The meeting has been moved to 3pm on Thursday in room 204.",
    "Congratulations! You have won a free cruise. Click here to claim your prize now.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Honestly, pineapple is the best pizza topping.",
    "Can you send me the report by Friday?",
    "Our flight landed safely and the kids are already asleep.",
    "Please find attached the invoice for March; payment is due within 30 days.",
    "The new phone has a bigger screen but the battery is worse.",
    "Lo siento, no hablo inglés muy bien.",
    "Ich habe morgen keine Zeit.",
    "Whales are the largest fish in the ocean.",
]


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

TOPICS_EXPLAIN = [
    "how vaccines work",
    "why the ocean is salty",
    "how a bill becomes law",
    "what causes inflation",
    "how a credit score is calculated",
    "how solar panels make electricity",
    "why cats purr",
    "how tides work",
    "what the immune system does",
    "how a jet engine works",
    "why we have time zones",
    "how rainbows form",
    "what dark matter is",
    "how the stock market works",
    "how bees communicate",
    "how a mortgage works",
    "what a recession is",
    "how earthquakes happen",
    "how the internet routes data",
    "what causes migraines",
    "why bread rises",
    "how hurricanes form",
    "what the ozone layer does",
    "how memory works in the brain",
    "what quantum entanglement is",
    "how antibiotics kill bacteria",
    "why the roman republic fell",
    "what the enlightenment was",
    "why the sky turns red at sunset",
    "how coral reefs form",
    "what a carbon footprint is",
    "how index funds work",
    "what the renaissance changed in art",
    "how elections work in a parliamentary system",
    "what stoicism teaches",
    "how photosynthesis works",
    "why some people are left-handed",
    "how caffeine affects the body",
    "what the cold war was about",
    "how a camera lens focuses light",
    "how noise-cancelling works",
    "what blockchain is",
    "how wind turbines generate power",
    "why music gives us chills",
    "what impressionism is",
    "how trade tariffs affect prices",
    "how the placebo effect works",
    "what existentialism says about meaning",
]


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


WHY_Q = [
    "why do onions make you cry",
    "why do we get goosebumps",
    "why is exercise good for mental health",
    "why do some countries drive on the left",
    "why do prices go up over time",
    "why do people procrastinate",
    "why is biodiversity important",
    "why did the dinosaurs go extinct",
    "why do we need sleep",
    "why is the dead sea so salty",
    "why are bees important for farming",
    "why did the titanic sink so quickly",
    "why is democracy considered important",
    "why do leaves change colour",
    "why is the middle east so important for oil",
    "why do some people get seasick",
    "what makes a good teacher",
    "what makes a novel a classic",
    "what is the purpose of art",
    "how does social media affect teenagers",
    "how do cultural differences shape communication",
    "how did the internet change journalism",
    "how does stress affect the body",
    "what is the role of a constitution",
    "what are the benefits of learning a second language",
    "how has photography changed the way we remember",
]


def why_q(rng: random.Random) -> str:
    return casing(rng, pick(rng, WHY_Q) + "?")


ADVICE = [
    "how do i {goal}",
    "what's the best way to {goal}",
    "any tips to {goal}",
    "I want to {goal}. Where should I start?",
    "give me some advice on how to {goal}",
    "what should I do to {goal}",
    "how can i {goal} without spending much money",
    "I'm {context} and I want to {goal}. Any suggestions?",
    "My {rel} wants to {goal}. What advice would you give?",
]
GOALS = [
    "improve my credit score",
    "change the oil in my car",
    "jump start a car",
    "get better sleep",
    "stop biting my nails",
    "learn to cook",
    "save for a house deposit",
    "get over a breakup",
    "start a vegetable garden",
    "become a better writer",
    "ask for a raise",
    "train for a 5k",
    "make friends as an adult",
    "learn to play guitar",
    "keep my houseplants alive",
    "study more effectively",
    "reduce my screen time",
    "prepare for a job interview",
    "get my toddler to eat vegetables",
    "organize a small closet",
    "deal with a noisy neighbour",
    "pay off credit card debt",
    "be more confident at work",
    "care for a new kitten",
    "eat healthier on a budget",
    "plan a surprise party",
    "fix a squeaky door",
    "clean mould from a shower",
    "winterize my bike",
    "choose a good running shoe",
    "build an emergency fund",
    "get rid of ants in the kitchen",
]
CONTEXTS = [
    "a college student",
    "a new parent",
    "recently retired",
    "working two jobs",
    "living in a small apartment",
    "new to the city",
    "in my forties",
]


def advice(rng: random.Random) -> str:
    return casing(
        rng,
        pick(rng, ADVICE).format(
            goal=pick(rng, GOALS),
            context=pick(rng, CONTEXTS),
            rel=pick(rng, ["brother", "mum", "friend", "partner", "daughter"]),
        ),
    )


DISHES = [
    "lasagna",
    "pad thai",
    "shakshuka",
    "banana bread",
    "chicken tikka masala",
    "vegetable soup",
    "risotto",
    "tacos",
    "apple pie",
    "ramen",
    "falafel",
    "beef stew",
    "pancakes",
    "lentil curry",
    "paella",
    "guacamole",
    "mac and cheese",
    "brownies",
]


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


PAIRS = [
    ("a roth ira", "a traditional ira"),
    ("tea", "coffee"),
    ("renting", "buying a home"),
    ("yoga", "pilates"),
    ("a kindle", "paper books"),
    ("electric cars", "hybrids"),
    ("cats", "dogs as pets"),
    ("stocks", "bonds"),
    ("baroque", "classical music"),
    ("socialism", "communism"),
    ("weather", "climate"),
    ("a virus", "bacteria"),
    ("mac", "windows laptops"),
    ("public", "private schools"),
    ("running", "cycling for fitness"),
    ("butter", "margarine"),
    ("an llc", "a corporation"),
    ("gas", "induction stoves"),
    ("monarchy", "republic"),
    ("plato", "aristotle"),
]


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


PERSONAS = [
    "a pirate captain",
    "a medieval blacksmith",
    "Sherlock Holmes",
    "a friendly barista",
    "a stand-up comedian",
    "a nervous astronaut",
    "a wise old tree",
    "a Roman senator",
    "a cowboy",
    "a fitness coach",
    "a customer support agent",
    "a travel guide in Rome",
    "a grumpy cat",
    "a Victorian butler",
    "a time traveller from 2300",
    "a sommelier",
    "a kindergarten teacher",
    "a noir detective",
    "a job interviewer",
    "a therapist",
    "a sports commentator",
    "a tour guide at the Louvre",
    "a superhero",
]


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


COUNTERFACTUAL = [
    "the internet had never been invented",
    "the roman empire never fell",
    "humans could photosynthesize",
    "electricity was discovered a thousand years earlier",
    "the printing press had been invented in china first and spread west",
    "everyone spoke the same language",
    "the moon were twice as close",
    "cars had never become popular",
    "money didn't exist",
    "the black death had never happened",
    "humans had no sense of smell",
    "we could hibernate in winter",
    "the beatles had never formed",
]


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


OPEN = [
    "How can someone tell whether a news website is trustworthy?",
    "What are the ethical issues with self-driving cars?",
    "How can cities become more friendly to pedestrians?",
    "What qualities make a good manager?",
    "How do you think remote work will change office buildings?",
    "What can parents do to encourage kids to read?",
    "Why do people enjoy being scared by horror movies?",
    "How do habits form and how can I break a bad one?",
    "What are the main arguments for and against daylight saving time?",
    "How might AI change the way students learn?",
    "Why are some songs so catchy?",
    "What is the best way to handle criticism?",
    "How do birds know where to migrate?",
    "What are the benefits of volunteering?",
    "How can a small business compete with big chains?",
    "What should I look for when choosing a therapist?",
    "How has streaming changed the film industry?",
    "What are some good ways to resolve a disagreement with a roommate?",
    "Why is it important to protect wetlands?",
    "What makes a good first impression in an interview?",
    "How can older people stay socially connected?",
    "What are the main causes of homelessness in big cities?",
    "How do museums decide what to display?",
    "What role does luck play in success?",
]


def open_q(rng: random.Random) -> str:
    return casing(rng, pick(rng, OPEN))


HUMANITIES = [
    "Discuss the main themes of {work}.",
    "What does the {symbol} symbolize in {work}?",
    "Describe the historical context of {event}.",
    "What were the social effects of {event}?",
    "Explain the philosophical idea of {idea} and give an example.",
    "How did {person} influence {field}?",
    "Briefly analyze the character of {char} in {work}.",
    "What are the key differences between {idea} and {idea2}?",
    "Describe the role of women during {event}.",
]


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


STEM_EXPLAIN = [
    "In the field of {f}, what is {c} and why is it useful?",
    "Describe how {c} works, with a real-world example.",
    "What is the difference between {c} and {c2}?",
    "Explain {c} to someone with no background in {f}.",
]
STEM_CONCEPTS = {
    "biology": ["natural selection", "mitosis", "the nitrogen cycle", "CRISPR"],
    "physics": ["entropy", "superconductivity", "the doppler effect", "nuclear fusion"],
    "economics": ["opportunity cost", "comparative advantage", "price elasticity"],
    "computer science": ["public key encryption", "a neural network", "cloud computing"],
    "chemistry": ["catalysis", "oxidation", "covalent bonding", "pH"],
    "psychology": ["cognitive dissonance", "the bystander effect", "attachment theory"],
}


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


WRITING_KINDS = [
    "blog post",
    "short story",
    "persuasive speech",
    "newsletter article",
    "personal essay",
    "product announcement",
    "letter to the editor",
    "travel diary entry",
    "short biography",
    "press release",
    "scene for a play",
    "fable with a moral",
    "cover letter",
    "welcome message",
    "restaurant review",
]
WRITING_SUBJECTS = [
    "a weekend spent volunteering at an animal shelter",
    "the reopening of a small-town cinema",
    "why everyone should learn to swim",
    "a child who finds a map in the attic",
    "the launch of a reusable coffee cup",
    "a first visit to the mountains",
    "a community garden that brought neighbours together",
    "a robot that wants to become a chef",
    "the importance of local libraries",
    "a rainy day at a seaside town",
    "a retired teacher who starts a podcast",
    "a new bicycle lane in the city centre",
    "an apprenticeship at a violin workshop",
    "the joy of cooking with grandparents",
]
WRITING_CONSTRAINTS = [
    "Keep it under 300 words.",
    "Use a warm, friendly tone.",
    "Make it suitable for a school newsletter.",
    "Include a catchy title.",
    "End with a call to action.",
    "Write it in the first person.",
    "Use vivid sensory details.",
    "It should be about two paragraphs long.",
    "Make it light-hearted and a little funny.",
    "Aim it at readers who are new to the topic.",
]


def formal_writing(rng: random.Random) -> str:
    kind = pick(rng, WRITING_KINDS)
    subject = pick(rng, WRITING_SUBJECTS)
    verb = pick(rng, ["Write", "Compose", "Draft", "Craft", "Create", "Please write"])
    extra = " ".join(rng.sample(WRITING_CONSTRAINTS, rng.randint(0, 2)))
    return f"{verb} a {kind} about {subject}. {extra}".strip()


ACT_AS = [
    ("a travel guide", "suggest places to visit near my location", "I am in central Lisbon"),
    ("a personal stylist", "suggest outfits for the occasion I describe", "a summer wedding"),
    ("a motivational coach", "give me strategies to reach my goals", "I keep skipping the gym"),
    ("a storyteller", "tell engaging stories for the audience I name", "children aged six"),
    ("a math teacher", "explain ideas in easy-to-understand terms", "what a fraction is"),
    ("a debate partner", "argue the other side of the topic I give", "school uniforms"),
    ("a film critic", "review the film I describe", "a heist movie set on a train"),
    ("an etiquette expert", "advise me on polite behaviour", "a business dinner in Japan"),
    ("a nutritionist", "suggest healthy alternatives", "I snack on crisps every evening"),
    ("a poet", "write a short poem on the theme I give", "homecoming"),
    ("a historian", "describe daily life in the period I name", "Victorian London"),
    ("a career counsellor", "help me think through my options", "I'm bored in my sales job"),
]


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


STEM_CONTEXT = [
    (
        "I read that {c} is important in {f}.",
        "How does it work, and where does it show up in everyday life?",
    ),
    (
        "My textbook mentions {c} but the explanation is confusing.",
        "Could you explain it with an analogy?",
    ),
    ("In {f}, people often talk about {c}.", "What is it, and why do scientists care about it?"),
    ("A friend told me {c} explains a lot about {f}.", "Is that right? Explain briefly."),
]


def stem_context(rng: random.Random) -> str:
    f = pick(rng, list(STEM_CONCEPTS))
    a, b = STEM_CONTEXT[rng.randrange(len(STEM_CONTEXT))]
    return f"{a.format(c=pick(rng, STEM_CONCEPTS[f]), f=f)} {b}"


DISCUSS = [
    "Discuss how {event} shaped {field}. Consider both short-term and long-term effects.",
    "How did {event} change ordinary people's lives? Give two or three examples.",
    "What lessons can modern leaders learn from {event}?",
    "Describe the main causes of {event} and explain which one historians consider most important.",
    "In what ways did {person} challenge the ideas of their time?",
    "What is the legacy of {person} today? Explain in a short paragraph.",
    "Explain the main ideas of {idea} and how they apply to {modern}.",
]


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


EASY_SCIENCE = [
    "What is the formula for the area of a circle?",
    "What is Newton's first law of motion?",
    "What is the chemical formula for water?",
    "What is the unit of power?",
    "What is the derivative of x squared?",
    "What is the formula for kinetic energy?",
    "Which planet has the most moons?",
    "What is the SI unit of temperature?",
    "What is the speed of sound in air, approximately?",
    "What is an acute angle?",
    "What is the sum of the angles in a triangle?",
    "How many centimeters are in a meter?",
    "What is a prime number?",
    "What is the largest bone in the human body?",
    "What does DNA stand for?",
    "Which organ pumps blood through the body?",
    "What is the main gas in Earth's atmosphere?",
    "What is the formula for density?",
    "What does a thermometer measure?",
    "How many strings does a standard guitar have?",
    "Which author created the detective Hercule Poirot?",
    "In which city are the Olympic Games of {year} held?",
    "How many minutes are in a {sport} match?",
    "Who is the author of '{book}'?",
    "What is the main language of {country}?",
]


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

CODE_TASKS = [
    "checks whether a string is a valid palindrome ignoring punctuation",
    "returns the n-th Fibonacci number using memoization",
    "merges overlapping intervals in a list",
    "finds the longest increasing subsequence of a list",
    "counts word frequencies in a text file and prints the top ten",
    "validates an email address with a regular expression",
    "parses a log file and reports the number of errors per hour",
    "implements a binary search tree with insert, delete and in-order traversal",
    "finds the shortest path in a grid with obstacles using BFS",
    "converts an integer to its English words representation",
    "detects whether two strings are anagrams",
    "serializes and deserializes a binary tree",
    "implements a min-heap from scratch",
    "computes the median of two sorted arrays",
    "returns all subsets of a set",
    "checks if a Sudoku board is valid",
    "finds the second largest number in a list",
    "removes all vowels from a string",
    "computes the greatest common divisor of two numbers",
    "returns the sum of the squares of the first n odd numbers",
    "finds the first non-repeating character in a string",
    "splits a list into chunks of size n",
    "reverses the words in a sentence",
    "checks if a number is an Armstrong number",
    "counts the number of set bits in an integer",
    "rotates a list to the right by k positions",
    "finds pairs in an array that sum to a target",
    "converts a decimal number to binary",
    "finds the maximum product of three numbers in a list",
    "computes the area of a polygon from its vertices",
    "implements an LRU cache",
    "parses a CSV file and computes column averages",
    "generates all valid combinations of n pairs of parentheses",
    "sorts a list of dictionaries by a given key",
    "finds the longest common prefix among a list of strings",
    "returns the number of days between two dates",
    "implements matrix multiplication without libraries",
    "checks whether a linked list is a palindrome",
    "counts the inversions in an array",
    "finds the minimum number of coins to make a given amount",
]


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


BUGGY = [
    (
        "python",
        "def mean(values):\n    total = 0\n    for v in values:\n        total += v\n    return total / len(values)",
    ),
    ("javascript", "for (var i = 0; i < 5; i++) {\n  setTimeout(() => console.log(i), 100);\n}"),
    (
        "python",
        "def add_item(item, items=[]):\n    items.append(item)\n    return items",
    ),
    (
        "java",
        'String s = null;\nif (s.equals("yes")) {\n    System.out.println("ok");\n}',
    ),
    (
        "c",
        "char *copy(const char *s) {\n    char buf[64];\n    strcpy(buf, s);\n    return buf;\n}",
    ),
    ("sql", "SELECT name, COUNT(*) FROM orders GROUP BY customer_id;"),
    (
        "python",
        "with open('data.txt') as f:\n    lines = f.readlines\nfor line in lines:\n    print(line.strip())",
    ),
    (
        "go",
        'func main() {\n    var m map[string]int\n    m["a"] = 1\n    fmt.Println(m)\n}',
    ),
    (
        "typescript",
        "async function load() {\n  const res = fetch('/api/items');\n  return res.json();\n}",
    ),
    ("bash", "for f in $(ls *.txt); do\n  mv $f ${f%.txt}.md\ndone"),
]


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


MATH = [
    "Solve for x: {a}x + {b} = {c}x - {d}.",
    "Find the derivative of f(x) = {a}x^3 - {b}x^2 + {c}x - {d}.",
    "Evaluate the integral of {a}x^2 + {b} from 0 to {c}.",
    "Find all real roots of x^2 - {s}x + {p} = 0.",
    "If f(x) = {a}x^2 - {b}x + {c}, find f({d}) and f(-{c}).",
    "What is the probability of rolling a sum of {s} with two dice?",
    "How many ways can you arrange the letters of the word {word}?",
    "Prove that the sum of the first n odd numbers is n^2.",
    "Prove that the product of two even numbers is divisible by 4.",
    "A triangle has sides {a}, {b} and {c}. Is it a right triangle? Find its area.",
    "Find the equation of the line through ({a}, {b}) and ({c}, {d}).",
    "What is the sum of the arithmetic series {a} + {a2} + ... up to {d} terms?",
    "Find the eigenvalues of the matrix [[{a}, {b}], [{c}, {d}]].",
    "Solve the system: x + y = {s}, x - y = {c}.",
    "What is the remainder when {big} is divided by {b}?",
    "A circle is inscribed in a square of side {a}. What is the area between them?",
    "Find the limit of ({a}x^2 + {b}) / ({c}x^2 - {d}) as x approaches infinity.",
    "How many integers between 1 and {big} are divisible by {b} or {c}?",
]


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


PUZZLES = [
    "Three boxes are labelled apples, oranges and mixed, and every label is wrong. You may "
    "take one fruit from one box. How do you relabel them correctly?",
    "A farmer must cross a river with a wolf, a goat and a cabbage; the boat carries one at a "
    "time. How does he do it? Explain each step.",
    "{n1}, {n2} and {n3} finished a race. {n1} was not last, {n2} beat {n3}, and {n3} was not "
    "second. What was the finishing order?",
    "If all bloops are razzies and some razzies are lazzies, must some bloops be lazzies? "
    "Explain your reasoning.",
    "You have two ropes that each burn for an hour, unevenly. How can you measure exactly 45 "
    "minutes?",
    "{n1} is taller than {n2}. {n3} is shorter than {n2} but taller than {n4}. Who is the "
    "second tallest? Explain.",
    "A clock shows 3:15. What is the angle between the hour and minute hands? Show the steps.",
    "There are 100 lockers and 100 students; student k toggles every k-th locker. Which lockers "
    "are open at the end and why?",
    "One of {n1}, {n2} and {n3} ate the cake. {n1} says {n2} did it, {n2} says she didn't, and "
    "{n3} says {n1} is lying. Only one tells the truth. Who ate the cake?",
    "What comes next in the sequence 2, 6, 12, 20, 30, ...? Explain the rule.",
    "If it takes 6 workers 4 days to build a wall, how long would 8 workers take, assuming "
    "they work at the same rate? Then explain when this assumption breaks down.",
    "In a family, {n1} is {n2}'s mother's only daughter's son. What is {n1} to {n2}? Reason it "
    "out.",
]


def puzzle(rng: random.Random) -> str:
    names = rng.sample(NAMES, 4)
    return pick(rng, PUZZLES).format(n1=names[0], n2=names[1], n3=names[2], n4=names[3])


FERMI = [
    "how many piano teachers there are in {c}",
    "how many cups of coffee are drunk in {country} each day",
    "how many tennis balls fit in a swimming pool",
    "how many times a human heart beats in a lifetime",
    "how many leaves are on a large oak tree",
    "how much paper a typical office uses in a year",
    "how many smartphones are thrown away each year worldwide",
    "how many taxis there are in {c}",
    "the total weight of all the ants on earth",
    "how many grains of sand are on a beach",
]


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


TECH_HARD = [
    "Explain how to fine-tune a transformer model on a custom dataset with PyTorch, including "
    "the training loop and evaluation code.",
    "Implement a simple version of the Raft consensus algorithm and explain leader election.",
    "Write a GLSL shader that renders a procedural ocean with Gerstner waves.",
    "Derive the backpropagation equations for a two-layer neural network with softmax output.",
    "Write a Python script using asyncio to crawl a website concurrently while respecting "
    "robots.txt and a rate limit.",
    "How do I set up a CI pipeline with GitHub Actions that runs tests, builds a Docker image "
    "and deploys to staging? Provide the workflow file.",
    "Write a VBA macro that consolidates data from every sheet of a workbook into a summary "
    "sheet with totals per category.",
    "Create a SQL schema for a hotel booking system and write queries for availability, "
    "overbooking checks and monthly revenue.",
    "Implement a Kalman filter in NumPy for tracking a moving object from noisy position "
    "readings, and explain each step.",
    "Write a regex-based tokenizer and a Pratt parser for a small expression language with "
    "variables and function calls.",
    "Prove that every tree with n vertices has exactly n - 1 edges.",
    "Compare three approaches to handling class imbalance in a fraud detection model and "
    "write code to evaluate them.",
    "Write an Obsidian plugin in TypeScript that adds a command to summarize the current note.",
    "Create a React Native screen with a form, validation and offline storage using SQLite.",
    "Show how to use dynamic programming to solve the knapsack problem, then optimise the "
    "memory to O(W).",
]


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


SENTENCES = [
    "Officials said the new policy would take effect at the start of next year.",
    "Residents in the affected areas were advised to stay indoors and keep windows closed.",
    "The company's chief executive told reporters that the decision had not been easy.",
    "Critics argue that the plan does little to address the underlying problem.",
    "A spokesperson for the ministry declined to comment on the details of the agreement.",
    "Analysts expect the figures to improve in the second half of the year.",
    "The investigation is expected to last several months, according to police.",
    "Local businesses say they have already seen a drop in customers.",
    "The report, published on Wednesday, draws on interviews with more than 200 people.",
    "Environmental groups welcomed the announcement but said it came too late.",
    "Opposition leaders called for an independent inquiry into the handling of the crisis.",
    "The team behind the study said more research would be needed to confirm the results.",
    "Ticket sales have more than doubled since the festival moved to its new venue.",
    "Emergency services were called to the scene shortly after midnight.",
    "The council will vote on the proposal at its next meeting in March.",
    "Teachers' unions have threatened to strike if the changes go ahead.",
    "The museum said the painting had been in storage for nearly forty years.",
    "Prices for fresh produce rose sharply after the poor harvest.",
    "Engineers are still working to determine what caused the failure.",
    "Some experts believe the trend will continue well into the next decade.",
]


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

QUIZ = [
    ("Which of these is a mammal?", ["a whale", "a salmon", "a lizard", "a frog"]),
    ("Which of these is a prime number?", ["21", "23", "25", "27"]),
    ("Which gas do plants take in from the air?", ["carbon dioxide", "helium", "neon", "argon"]),
    ("Which instrument has 88 keys?", ["a piano", "a violin", "a trumpet", "a harp"]),
    ("Which of these is a noun?", ["happiness", "quickly", "run", "blue"]),
    ("What is 15% of 200?", ["30", "15", "20", "35"]),
    ("Which sport uses a shuttlecock?", ["badminton", "tennis", "squash", "volleyball"]),
    ("Which planet is known as the red planet?", ["Mars", "Venus", "Jupiter", "Mercury"]),
    ("Who painted the Mona Lisa?", ["Leonardo da Vinci", "Picasso", "Monet", "Rembrandt"]),
    (
        "Which unit measures electrical resistance?",
        ["the ohm", "the volt", "the watt", "the joule"],
    ),
    ("How many sides does a pentagon have?", ["5", "6", "7", "8"]),
    (
        "Which poet wrote 'The Raven'?",
        ["Edgar Allan Poe", "Walt Whitman", "Robert Frost", "Emily Dickinson"],
    ),
    ("Which of these is a renewable energy source?", ["wind", "coal", "oil", "natural gas"]),
    ("What is the square root of 81?", ["9", "8", "7", "18"]),
]


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


COMMON_SENSE = [
    "Is it safe to look directly at the sun?",
    "Why do we wear coats in winter?",
    "What do you use an umbrella for?",
    "If it is raining, should I take a raincoat?",
    "Can you put metal in a microwave?",
    "What happens to ice cream if you leave it in the sun?",
    "Which is heavier, a kilo of feathers or a kilo of bricks?",
    "How many months have 28 days?",
    "What do bees make?",
    "Do fish sleep?",
    "Where does the sun rise?",
    "What should you do if your pan catches fire?",
    "Is a tomato a fruit or a vegetable?",
    "Why do leaves fall in autumn, in one sentence?",
]


def common_sense(rng: random.Random) -> str:
    return casing(rng, pick(rng, COMMON_SENSE))


FACTS_SPORT_LIT = [
    "How many players are on a {team} team on the field?",
    "What is a hat-trick in {ball}?",
    "How long is a marathon in kilometres?",
    "Which country won the first football World Cup?",
    "How many rings are on the Olympic flag?",
    "In tennis, what is a score of zero called?",
    "How many holes are on a standard golf course?",
    "Who wrote the novel '{book}'?",
    "In which century was '{book}' written?",
    "What is the name of the narrator in Moby-Dick?",
    "Who is the main character of '{book}'?",
    "What is a haiku?",
    "Which Shakespeare play features the character Ophelia?",
    "What is the unit of electric current?",
    "What is the acceleration due to gravity on Earth?",
    "What is the speed of light in a vacuum?",
    "What does a voltmeter measure?",
    "What is the formula for the circumference of a circle?",
    "What is the freezing point of water in Fahrenheit?",
    "What is Ohm's law?",
    "How many bones does an adult human have?",
    "What is the past tense of 'swim'?",
    "What is the capital of {country}?",
]


def sport_lit_science(rng: random.Random) -> str:
    text = pick(rng, FACTS_SPORT_LIT).format(
        team=pick(rng, ["football", "basketball", "volleyball", "rugby union", "hockey"]),
        ball=pick(rng, ["football", "cricket", "ice hockey"]),
        book=pick(rng, list(FILL["book"])).title(),
        country=pick(rng, COUNTRIES),
    )
    return casing(rng, text)


ANALYSIS_CONTEXT = [
    "Over the past two decades, {trend}.",
    "Many commentators argue that {trend}.",
    "It is often said that {trend}.",
    "Recent reports suggest that {trend}.",
]
TRENDS = [
    "remote work has changed how cities are organised",
    "social media has reshaped political campaigns",
    "streaming services have transformed the music industry",
    "online shopping has hollowed out high streets",
    "automation is changing which skills employers value",
    "tourism has put pressure on historic city centres",
    "electric cars are changing the energy market",
    "standardised testing shapes what schools teach",
    "open-plan offices affect how colleagues communicate",
    "low-cost airlines have changed how people travel",
    "citizen science projects are changing research",
    "microfinance has altered small business in developing countries",
]
ANALYSIS_ASK = [
    "Discuss the main advantages and disadvantages of this development.",
    "Evaluate whether this has been a positive change overall.",
    "Analyse the social and economic effects in a well-structured paragraph.",
    "Explain the main reasons behind this and what it means for ordinary people.",
    "What are the most important consequences, and who benefits the most?",
    "Critically assess this claim, giving arguments on both sides.",
    "How should governments respond? Explain your reasoning.",
]


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


CONCEPT_PAIRS = [
    ("inflation", "deflation"),
    ("weather", "climate"),
    ("a virus", "a bacterium"),
    ("mitosis", "meiosis"),
    ("a democracy", "a republic"),
    ("stocks", "bonds"),
    ("nominal wages", "real wages"),
    ("fiscal policy", "monetary policy"),
    ("speed", "velocity"),
    ("an acid", "a base"),
    ("empathy", "sympathy"),
    ("renewable energy", "non-renewable energy"),
    ("a simile", "a metaphor"),
    ("imports", "exports"),
    ("a recession", "a depression"),
]


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


FICTIONAL = [
    "Sherlock Holmes",
    "a pirate captain from the 1700s",
    "Captain Ahab",
    "a grumpy wizard",
    "Elizabeth Bennet",
    "a Victorian butler",
    "a cheerful robot from the future",
    "a Roman senator",
    "a detective in 1940s Los Angeles",
    "a dragon who guards a library",
]


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


EXPERT_TOPICS = [
    "query planning in a column-oriented database",
    "register allocation in an optimising compiler",
    "autoscaling stateful services on Kubernetes",
    "lock-free queues on multi-core CPUs",
    "pricing American options numerically",
    "hierarchical Bayesian models for sparse survey data",
    "reducing tail latency in a microservice architecture",
    "garbage collection in a high-throughput JVM service",
    "inventory optimisation across a multi-warehouse supply chain",
    "post-quantum key exchange in TLS",
    "mixed-precision training of large neural networks",
    "shadow mapping artefacts in real-time rendering",
    "designing a loyalty programme for a subscription business with high churn",
    "entering a regulated market with a fintech product",
    "cache invalidation in a globally distributed CDN",
]


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


def generate(seed: int = 5) -> list[tuple[str, str]]:
    """(lane, text) pairs, deduplicated, in a stable order."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
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
                out.append((lane, text))
                made += 1
    return out


def main() -> None:
    rows = generate()
    with OUT.open("w", encoding="utf-8") as handle:
        for lane, text in rows:
            handle.write(json.dumps({"lane": lane, "text": text}, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for lane, _ in rows:
        counts[lane] = counts.get(lane, 0) + 1
    print(f"wrote {len(rows)} examples to {OUT}: {counts}")


if __name__ == "__main__":
    main()
