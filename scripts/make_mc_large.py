#!/usr/bin/env python3
"""Write conductor_mc_large: 1,000+ four-option questions generated from tables written for this project.

    python scripts/make_mc_large.py            # rewrites skills/evaluate/tasks/conductor_facts/mc_large_test.jsonl
    python scripts/make_mc_large.py --check    # exit 1 if the committed file differs

Why: the compare gate needs ~z^2 d / t^2 paired documents to resolve a threshold t when a fraction d
of the answers flip between baseline and candidate (benchmarks/bench_evidence.py); the 164 questions
of conductor_facts_mc cannot resolve one point. Every question is a simple fact, word form or
common-sense relation from the tables below (no data set was downloaded). Distractors come from the
same table, from groups that cannot also be right (an antonym question never offers a word of the same
meaning group; "Which of these is an animal?" never offers a bird). Answers are mostly one word, so
most options are a single token and lm-eval scores the four options of a question in one forward pass.
The correct option's position is balanced A-D by rotation and the rows are shuffled (seed 20260101).

NO_COPY: a distractor never repeats a word of its own question ("What is the past tense of "go"?" does
not offer "go"; "What is two plus three?" does not offer "two"): log-likelihood scoring favours a word
the prompt just used, and such items measured the model's copying, not its knowledge (a first version
scored 0/25 on comparatives and superlatives that offered the adjective itself).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
from pathlib import Path
from typing import Iterator, Optional, Sequence

OUT = (
    Path(__file__).resolve().parents[1]
    / "skills"
    / "evaluate"
    / "tasks"
    / "conductor_facts"
    / "mc_large_test.jsonl"
)
SEED = 20260101
Item = tuple[str, str, str, list[str]]  # category, question, answer, distractors

CAPITALS = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Italy": "Rome",
    "Germany": "Berlin",
    "Spain": "Madrid",
    "the United Kingdom": "London",
    "Russia": "Moscow",
    "Egypt": "Cairo",
    "China": "Beijing",
    "Canada": "Ottawa",
    "Australia": "Canberra",
    "Greece": "Athens",
    "Portugal": "Lisbon",
    "Norway": "Oslo",
    "Sweden": "Stockholm",
    "Finland": "Helsinki",
    "Denmark": "Copenhagen",
    "Poland": "Warsaw",
    "Austria": "Vienna",
    "Hungary": "Budapest",
    "Ireland": "Dublin",
    "the Netherlands": "Amsterdam",
    "Belgium": "Brussels",
    "Turkey": "Ankara",
    "Thailand": "Bangkok",
    "South Korea": "Seoul",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Argentina": "Buenos Aires",
    "Cuba": "Havana",
    "Iran": "Tehran",
    "Iraq": "Baghdad",
    "Indonesia": "Jakarta",
    "the Philippines": "Manila",
    "Vietnam": "Hanoi",
    "the Czech Republic": "Prague",
    "Ukraine": "Kyiv",
    "Romania": "Bucharest",
    "Morocco": "Rabat",
    "Saudi Arabia": "Riyadh",
    "Colombia": "Bogota",
    "Venezuela": "Caracas",
    "Ghana": "Accra",
    "New Zealand": "Wellington",
    "Iceland": "Reykjavik",
    "Chile": "Santiago",
    "Mexico": "Mexico City",
    "India": "New Delhi",
    "Pakistan": "Islamabad",
    "Nigeria": "Abuja",
}
CONTINENT = {
    "France": "Europe",
    "Japan": "Asia",
    "Italy": "Europe",
    "Germany": "Europe",
    "Spain": "Europe",
    "Egypt": "Africa",
    "China": "Asia",
    "Canada": "North America",
    "Australia": "Oceania",
    "Greece": "Europe",
    "Portugal": "Europe",
    "Norway": "Europe",
    "Sweden": "Europe",
    "Finland": "Europe",
    "Poland": "Europe",
    "Austria": "Europe",
    "Ireland": "Europe",
    "Thailand": "Asia",
    "South Korea": "Asia",
    "Kenya": "Africa",
    "Peru": "South America",
    "Argentina": "South America",
    "Brazil": "South America",
    "Chile": "South America",
    "Colombia": "South America",
    "Venezuela": "South America",
    "Iran": "Asia",
    "Vietnam": "Asia",
    "India": "Asia",
    "Pakistan": "Asia",
    "Nigeria": "Africa",
    "Ghana": "Africa",
    "Morocco": "Africa",
    "Ethiopia": "Africa",
    "South Africa": "Africa",
    "Mexico": "North America",
    "the United States": "North America",
    "Cuba": "North America",
    "New Zealand": "Oceania",
    "Fiji": "Oceania",
    "Iceland": "Europe",
    "Hungary": "Europe",
    "Denmark": "Europe",
    "Nepal": "Asia",
    "Mongolia": "Asia",
    "Uganda": "Africa",
    "Bolivia": "South America",
    "Jamaica": "North America",
}
LANGUAGE = {
    "France": "French",
    "Germany": "German",
    "Spain": "Spanish",
    "Italy": "Italian",
    "Portugal": "Portuguese",
    "Brazil": "Portuguese",
    "Mexico": "Spanish",
    "Japan": "Japanese",
    "China": "Chinese",
    "Russia": "Russian",
    "Greece": "Greek",
    "Poland": "Polish",
    "the Netherlands": "Dutch",
    "Sweden": "Swedish",
    "Norway": "Norwegian",
    "Finland": "Finnish",
    "Denmark": "Danish",
    "Turkey": "Turkish",
    "Egypt": "Arabic",
    "Saudi Arabia": "Arabic",
    "Argentina": "Spanish",
    "Peru": "Spanish",
    "Austria": "German",
    "Hungary": "Hungarian",
    "the Czech Republic": "Czech",
    "Ukraine": "Ukrainian",
    "South Korea": "Korean",
    "Thailand": "Thai",
    "Vietnam": "Vietnamese",
    "Iran": "Persian",
    "Iceland": "Icelandic",
    "Australia": "English",
    "Indonesia": "Indonesian",
    "Colombia": "Spanish",
    "Chile": "Spanish",
    "the United States": "English",
}
# antonym pairs, grouped by meaning so that a distractor never comes from the question's own group
OPPOSITES: dict[str, list[tuple[str, str]]] = {
    "size": [
        ("big", "small"),
        ("tall", "short"),
        ("wide", "narrow"),
        ("thick", "thin"),
        ("deep", "shallow"),
        ("heavy", "light"),
        ("long", "brief"),
        ("huge", "tiny"),
    ],
    "temperature": [("hot", "cold"), ("warm", "cool"), ("summer", "winter")],
    "speed": [("fast", "slow"), ("quick", "sluggish")],
    "feeling": [
        ("happy", "sad"),
        ("love", "hate"),
        ("laugh", "cry"),
        ("brave", "cowardly"),
        ("calm", "angry"),
        ("polite", "rude"),
        ("generous", "selfish"),
    ],
    "place": [
        ("up", "down"),
        ("left", "right"),
        ("north", "south"),
        ("east", "west"),
        ("inside", "outside"),
        ("above", "below"),
        ("near", "far"),
        ("top", "bottom"),
        ("front", "back"),
        ("high", "low"),
        ("inner", "outer"),
        ("entrance", "exit"),
    ],
    "time": [
        ("early", "late"),
        ("day", "night"),
        ("first", "last"),
        ("before", "after"),
        ("always", "never"),
        ("begin", "end"),
        ("start", "finish"),
        ("sunrise", "sunset"),
        ("ancient", "modern"),
        ("young", "old"),
        ("arrive", "leave"),
    ],
    "amount": [
        ("full", "empty"),
        ("more", "less"),
        ("maximum", "minimum"),
        ("increase", "decrease"),
        ("plus", "minus"),
        ("many", "few"),
        ("all", "none"),
    ],
    "value": [
        ("good", "bad"),
        ("true", "false"),
        ("correct", "incorrect"),
        ("rich", "poor"),
        ("cheap", "expensive"),
        ("safe", "dangerous"),
        ("easy", "difficult"),
        ("possible", "impossible"),
        ("positive", "negative"),
        ("win", "lose"),
        ("friend", "enemy"),
        ("clean", "dirty"),
    ],
    "touch": [
        ("hard", "soft"),
        ("wet", "dry"),
        ("smooth", "rough"),
        ("sharp", "blunt"),
        ("tight", "loose"),
        ("sweet", "sour"),
    ],
    "sense": [("loud", "quiet"), ("bright", "dark"), ("black", "white"), ("visible", "invisible")],
    "action": [
        ("open", "close"),
        ("push", "pull"),
        ("buy", "sell"),
        ("give", "take"),
        ("remember", "forget"),
        ("accept", "refuse"),
        ("float", "sink"),
        ("question", "answer"),
        ("import", "export"),
        ("asleep", "awake"),
        ("alive", "dead"),
        ("odd", "even"),
        ("strong", "weak"),
        ("wild", "tame"),
    ],
}
PLURALS = {
    "child": ["childs", "childes", "childer"],
    "man": ["mans", "manes", "mens"],
    "woman": ["womans", "womens", "womanes"],
    "tooth": ["tooths", "toothes", "teeths"],
    "foot": ["foots", "footes", "feets"],
    "goose": ["gooses", "geeses", "goosen"],
    "mouse": ["mouses", "mices", "mousen"],
    "person": ["persones", "peoples", "personen"],
    "ox": ["oxes", "oxs", "oxies"],
    "leaf": ["leafs", "leafes", "leavs"],
    "knife": ["knifes", "knifs", "knive"],
    "wife": ["wifes", "wifs", "wive"],
    "wolf": ["wolfs", "wolfes", "wolve"],
    "half": ["halfs", "halfes", "halve"],
    "life": ["lifes", "lifs", "live"],
    "shelf": ["shelfs", "shelfes", "shelve"],
    "thief": ["thiefs", "thiefes", "thieve"],
    "potato": ["potatos", "potatoe", "potatis"],
    "tomato": ["tomatos", "tomatoe", "tomatis"],
    "hero": ["heros", "heroe", "heroies"],
    "box": ["boxs", "boxen", "boxies"],
    "bus": ["buss", "busies", "bussen"],
    "dish": ["dishs", "dishies", "dishen"],
    "church": ["churchs", "churchies", "churchen"],
    "baby": ["babys", "babyes", "babies'"],
    "city": ["citys", "cityes", "citties"],
    "party": ["partys", "partyes", "parties'"],
    "lady": ["ladys", "ladyes", "ladie"],
    "story": ["storys", "storyes", "storie"],
    "fly": ["flys", "flyes", "flie"],
    "day": ["daies", "dayes", "dais"],
    "key": ["keies", "keyes", "kies"],
    "boy": ["boies", "boyes", "bois"],
    "toy": ["toies", "toyes", "tois"],
    "cat": ["cates", "caties", "caten"],
    "dog": ["doges", "dogies", "doggen"],
    "book": ["bookes", "bookies", "booken"],
    "tree": ["treees", "treies", "treen"],
    "sheep": ["sheeps", "sheepes", "sheepen"],
    "deer": ["deers", "deeres", "deeren"],
    "glass": ["glasss", "glassies", "glassen"],
    "fox": ["foxs", "foxen", "foxies"],
    "class": ["classs", "classies", "classen"],
    "watch": ["watchs", "watchies", "watchen"],
    "house": ["housen", "houseses", "hice"],
    "car": ["cares", "caries", "caren"],
}
PLURAL_OF = {
    "child": "children",
    "man": "men",
    "woman": "women",
    "tooth": "teeth",
    "foot": "feet",
    "goose": "geese",
    "mouse": "mice",
    "person": "people",
    "ox": "oxen",
    "leaf": "leaves",
    "knife": "knives",
    "wife": "wives",
    "wolf": "wolves",
    "half": "halves",
    "life": "lives",
    "shelf": "shelves",
    "thief": "thieves",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "hero": "heroes",
    "box": "boxes",
    "bus": "buses",
    "dish": "dishes",
    "church": "churches",
    "baby": "babies",
    "city": "cities",
    "party": "parties",
    "lady": "ladies",
    "story": "stories",
    "fly": "flies",
    "day": "days",
    "key": "keys",
    "boy": "boys",
    "toy": "toys",
    "cat": "cats",
    "dog": "dogs",
    "book": "books",
    "tree": "trees",
    "sheep": "sheep",
    "deer": "deer",
    "glass": "glasses",
    "fox": "foxes",
    "class": "classes",
    "watch": "watches",
    "house": "houses",
    "car": "cars",
}
PAST = {
    "go": "went",
    "eat": "ate",
    "see": "saw",
    "take": "took",
    "give": "gave",
    "write": "wrote",
    "run": "ran",
    "swim": "swam",
    "sing": "sang",
    "drink": "drank",
    "begin": "began",
    "speak": "spoke",
    "break": "broke",
    "choose": "chose",
    "drive": "drove",
    "ride": "rode",
    "fly": "flew",
    "grow": "grew",
    "know": "knew",
    "throw": "threw",
    "draw": "drew",
    "buy": "bought",
    "bring": "brought",
    "think": "thought",
    "teach": "taught",
    "catch": "caught",
    "fight": "fought",
    "sell": "sold",
    "tell": "told",
    "find": "found",
    "sleep": "slept",
    "keep": "kept",
    "feel": "felt",
    "leave": "left",
    "meet": "met",
    "sit": "sat",
    "stand": "stood",
    "win": "won",
    "make": "made",
    "say": "said",
    "pay": "paid",
    "lose": "lost",
    "hear": "heard",
    "hold": "held",
    "build": "built",
    "send": "sent",
    "spend": "spent",
    "come": "came",
    "forget": "forgot",
    "get": "got",
    "wear": "wore",
    "steal": "stole",
    "freeze": "froze",
    "hide": "hid",
    "bite": "bit",
    "shake": "shook",
    "walk": "walked",
    "play": "played",
    "jump": "jumped",
    "cook": "cooked",
    "open": "opened",
    "help": "helped",
    "watch": "watched",
    "clean": "cleaned",
    "dance": "danced",
    "laugh": "laughed",
    "carry": "carried",
    "try": "tried",
    "stop": "stopped",
    "plan": "planned",
    "live": "lived",
    "love": "loved",
    "ask": "asked",
}
# adjective -> (comparative, superlative, a misspelt comparative, a misspelt superlative)
DEGREES = {
    "big": ("bigger", "biggest", "biger", "bigest"),
    "small": ("smaller", "smallest", "smaler", "smalest"),
    "good": ("better", "best", "gooder", "goodest"),
    "bad": ("worse", "worst", "badder", "baddest"),
    "happy": ("happier", "happiest", "happyer", "happyest"),
    "tall": ("taller", "tallest", "taler", "talest"),
    "fast": ("faster", "fastest", "fastter", "fasttest"),
    "old": ("older", "oldest", "oldder", "olddest"),
    "long": ("longer", "longest", "longger", "longgest"),
    "hot": ("hotter", "hottest", "hoter", "hotest"),
    "cold": ("colder", "coldest", "coldder", "colddest"),
    "easy": ("easier", "easiest", "easyer", "easyest"),
    "funny": ("funnier", "funniest", "funnyer", "funnyest"),
    "thin": ("thinner", "thinnest", "thiner", "thinest"),
    "wet": ("wetter", "wettest", "weter", "wetest"),
    "large": ("larger", "largest", "largeer", "largeest"),
    "late": ("later", "latest", "lateer", "lateest"),
    "heavy": ("heavier", "heaviest", "heavyer", "heavyest"),
    "strong": ("stronger", "strongest", "strongger", "stronggest"),
    "warm": ("warmer", "warmest", "warmmer", "warmmest"),
    "young": ("younger", "youngest", "youngger", "younggest"),
    "far": ("farther", "farthest", "farer", "farest"),
    "busy": ("busier", "busiest", "busyer", "busyest"),
    "sad": ("sadder", "saddest", "sader", "sadest"),
    "nice": ("nicer", "nicest", "niceer", "niceest"),
    "early": ("earlier", "earliest", "earlyer", "earlyest"),
    "pretty": ("prettier", "prettiest", "prettyer", "prettyest"),
    "short": ("shorter", "shortest", "shortter", "shorttest"),
    "slow": ("slower", "slowest", "slowwer", "slowwest"),
    "dry": ("drier", "driest", "dryier", "dryiest"),
}
SOUNDS = {
    "cow": "moo",
    "dog": "bark",
    "cat": "meow",
    "duck": "quack",
    "sheep": "baa",
    "pig": "oink",
    "lion": "roar",
    "horse": "neigh",
    "owl": "hoot",
    "bee": "buzz",
    "snake": "hiss",
    "frog": "croak",
    "mouse": "squeak",
    "wolf": "howl",
    "donkey": "bray",
    "dove": "coo",
    "hen": "cluck",
    "crow": "caw",
}
YOUNG = {
    "dog": "puppy",
    "cat": "kitten",
    "cow": "calf",
    "horse": "foal",
    "sheep": "lamb",
    "pig": "piglet",
    "duck": "duckling",
    "frog": "tadpole",
    "kangaroo": "joey",
    "bear": "cub",
    "swan": "cygnet",
    "goose": "gosling",
    "deer": "fawn",
    "hen": "chick",
    "butterfly": "caterpillar",
    "goat": "kid",
    "owl": "owlet",
}
COLOR_OF = {
    "a ripe banana": "yellow",
    "fresh grass": "green",
    "the sky on a clear day": "blue",
    "fresh snow": "white",
    "coal": "black",
    "blood": "red",
    "a ripe strawberry": "red",
    "a carrot": "orange",
    "a ripe lemon": "yellow",
    "milk chocolate": "brown",
    "milk": "white",
    "a ripe tomato": "red",
    "a lime": "green",
    "a pumpkin": "orange",
    "a summer leaf": "green",
    "a flamingo": "pink",
    "a crow": "black",
    "a polar bear": "white",
    "an elephant": "gray",
    "tree bark": "brown",
    "a fire truck": "red",
    "a school bus in the United States": "yellow",
    "an emerald": "green",
    "a ruby": "red",
    "a sapphire": "blue",
    "an eggplant": "purple",
    "broccoli": "green",
    "corn": "yellow",
    "a cucumber": "green",
    "salt": "white",
    "a pig in a cartoon": "pink",
    "the sun in a drawing": "yellow",
    "a raven": "black",
    "a cloud on a sunny day": "white",
    "a cherry": "red",
    "a lavender flower": "purple",
}
COLORS = ["yellow", "green", "blue", "white", "black", "red", "orange", "brown", "pink", "gray", "purple"]
CATEGORIES: dict[str, list[str]] = {
    "fruit": [
        "apple",
        "banana",
        "cherry",
        "grape",
        "lemon",
        "mango",
        "peach",
        "pear",
        "plum",
        "kiwi",
        "melon",
        "strawberry",
    ],
    "vegetable": ["carrot", "potato", "onion", "cabbage", "lettuce", "spinach", "broccoli", "celery", "garlic"],
    "mammal": ["dog", "horse", "tiger", "rabbit", "monkey", "elephant", "giraffe", "zebra", "lion", "bear", "wolf"],
    "bird": ["eagle", "sparrow", "parrot", "owl", "pigeon", "robin", "swan", "penguin", "duck"],
    "fish": ["salmon", "trout", "tuna", "shark", "cod", "carp"],
    "insect": ["ant", "bee", "beetle", "butterfly", "mosquito", "wasp", "ladybug"],
    "vehicle": ["car", "bus", "train", "bicycle", "truck", "boat", "airplane", "tractor", "taxi", "motorcycle"],
    "piece of furniture": ["chair", "table", "sofa", "bed", "desk", "wardrobe", "stool", "bench"],
    "piece of clothing": ["shirt", "jacket", "sock", "hat", "scarf", "coat", "dress", "glove", "sweater"],
    "tool": ["hammer", "screwdriver", "saw", "wrench", "drill", "shovel", "pliers", "axe"],
    "musical instrument": ["piano", "guitar", "violin", "drum", "flute", "trumpet", "harp", "cello", "clarinet"],
    "part of the body": ["hand", "knee", "elbow", "shoulder", "ankle", "finger", "nose", "ear", "chin"],
    "metal": ["iron", "copper", "silver", "gold", "tin", "zinc", "aluminum"],
    "sport": ["football", "tennis", "golf", "hockey", "baseball", "rugby", "volleyball", "basketball"],
    "drink": ["tea", "coffee", "milk", "juice", "lemonade", "cocoa"],
    "planet": ["Venus", "Mars", "Jupiter", "Saturn", "Neptune", "Uranus"],
}
ARTICLE = {"insect": "an", "animal": "an"}
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
SEASONS = ["spring", "summer", "autumn", "winter"]
WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
COUNTS = [
    ("How many legs does a spider have?", 8),
    ("How many legs does an insect have?", 6),
    ("How many legs does a dog have?", 4),
    ("How many legs does a bird have?", 2),
    ("How many days are in a week?", 7),
    ("How many months are in a year?", 12),
    ("How many sides does a triangle have?", 3),
    ("How many sides does a square have?", 4),
    ("How many sides does a hexagon have?", 6),
    ("How many sides does a pentagon have?", 5),
    ("How many sides does an octagon have?", 8),
    ("How many arms does an octopus have?", 8),
    ("How many fingers are on one human hand?", 5),
    ("How many eyes does a person have?", 2),
    ("How many items are in a dozen?", 12),
    ("How many years are in a decade?", 10),
    ("How many wheels does a bicycle have?", 2),
    ("How many wheels does a tricycle have?", 3),
    ("How many wheels does a car usually have?", 4),
    ("How many continents are there?", 7),
    ("How many colors are in a rainbow?", 7),
    ("How many players does a soccer team have on the field?", 11),
    ("How many strings does a violin have?", 4),
    ("How many strings does a standard guitar have?", 6),
    ("How many seasons are in a year?", 4),
    ("How many hours are in half a day?", 12),
    ("How many hearts does a human have?", 1),
    ("How many noses does a person have?", 1),
    ("How many sides does a rectangle have?", 4),
    ("How many wings does a bird have?", 2),
    ("How many days are in a weekend?", 2),
    ("How many corners does a triangle have?", 3),
]
USE = {
    "cut paper": "scissors",
    "write on a blackboard": "chalk",
    "see stars far away": "telescope",
    "dig a hole": "shovel",
    "unlock a door": "key",
    "sweep the floor": "broom",
    "carry water": "bucket",
    "brush your teeth": "toothbrush",
    "wash your hands": "soap",
    "take photos": "camera",
    "eat soup": "spoon",
    "boil water for tea": "kettle",
    "hit a nail": "hammer",
    "sew a button": "needle",
    "measure a line": "ruler",
    "dry yourself after a shower": "towel",
    "keep food cold": "fridge",
    "cut bread": "knife",
    "tell the time": "clock",
    "keep dry in the rain": "umbrella",
    "look at your own face": "mirror",
    "comb your hair": "comb",
    "type on a computer": "keyboard",
    "find your way north": "compass",
}
WHO = {
    "flies an airplane": "pilot",
    "treats sick people": "doctor",
    "teaches children at school": "teacher",
    "bakes bread": "baker",
    "fixes teeth": "dentist",
    "grows crops": "farmer",
    "cuts hair": "barber",
    "delivers letters": "postman",
    "cooks in a restaurant kitchen": "chef",
    "serves food at the tables": "waiter",
    "writes books": "author",
    "paints pictures": "painter",
    "treats sick animals": "vet",
    "fixes water pipes": "plumber",
    "repairs cars": "mechanic",
    "designs buildings": "architect",
    "catches fish for a living": "fisherman",
    "looks after a library": "librarian",
}
WHERE = {
    "borrow books": "library",
    "catch a plane": "airport",
    "buy bread": "bakery",
    "see wild animals in cages": "zoo",
    "take a sick person": "hospital",
    "watch a film on a big screen": "cinema",
    "keep your savings": "bank",
    "catch a train": "station",
    "buy stamps and send letters": "post office",
    "see old paintings": "museum",
    "buy medicine": "pharmacy",
    "swim in a pool": "pool",
    "camp in a tent": "campsite",
    "pray in a church": "church",
}
SIZE_ORDER = ["ant", "mouse", "rabbit", "cat", "dog", "sheep", "horse", "giraffe", "elephant", "whale"]


def _opts(pool: Sequence[str], answer: str, rng: random.Random, exclude: Sequence[str] = ()) -> list[str]:
    choices = sorted({p for p in pool if p != answer and p not in exclude})
    return rng.sample(choices, 3)


def geography(rng: random.Random) -> Iterator[Item]:
    caps = list(CAPITALS.values())
    for country, cap in CAPITALS.items():
        yield "capital", f"What is the capital of {country}?", cap, _opts(caps, cap, rng)
        others = [c for c in CAPITALS if c != country]
        yield (
            "capital_of",
            f"{cap} is the capital of which country?",
            _country(country),
            [_country(c) for c in rng.sample(others, 3)],
        )
    conts = sorted(set(CONTINENT.values()))
    for country, cont in CONTINENT.items():
        yield "continent", f"On which continent is {country}?", cont, _opts(conts, cont, rng)
    langs = sorted(set(LANGUAGE.values()))
    for country, lang in LANGUAGE.items():
        yield "language", f"What language is mainly spoken in {country}?", lang, _opts(langs, lang, rng)
    for cont in ("Europe", "Asia", "Africa", "South America"):
        inside = [c for c, k in CONTINENT.items() if k == cont]
        outside = [c for c, k in CONTINENT.items() if k != cont]
        for c in inside[:10]:
            yield (
                "in_continent",
                f"Which of these countries is in {cont}?",
                _country(c),
                [_country(o) for o in rng.sample(outside, 3)],
            )


def _country(c: str) -> str:
    return c[4:] if c.startswith("the ") else c


def words(rng: random.Random) -> Iterator[Item]:
    groups = {w: g for g, pairs in OPPOSITES.items() for pair in pairs for w in pair}
    for g, pairs in OPPOSITES.items():
        for a, b in pairs:
            for w, opp in ((a, b), (b, a)):
                pool = [x for x, gx in groups.items() if gx != g]
                yield "opposite", f'What is the opposite of "{w}"?', opp, _opts(pool, opp, rng)
    for noun, plural in PLURAL_OF.items():
        yield "plural", f'What is the plural of "{noun}"?', plural, list(PLURALS[noun])
    for verb, past in PAST.items():
        wrong = {verb + "s", verb + "ing", verb + "ed", verb + "d"} - {past}  # never the verb itself: see NO_COPY
        yield "past_tense", f'What is the past tense of "{verb}"?', past, rng.sample(sorted(wrong), 3)
    for adj, (comp, sup, bad_comp, bad_sup) in DEGREES.items():
        yield "comparative", f'What is the comparative form of "{adj}"?', comp, [sup, bad_comp, bad_sup]
        yield "superlative", f'What is the superlative form of "{adj}"?', sup, [comp, bad_sup, bad_comp]


def nature(rng: random.Random) -> Iterator[Item]:
    for animal, sound in SOUNDS.items():
        yield "sound", f"What sound does a {animal} make?", sound, _opts(list(SOUNDS.values()), sound, rng)
    for animal, young in YOUNG.items():
        yield "young", f"What is a baby {animal} called?", young, _opts(list(YOUNG.values()), young, rng)
    for thing, color in COLOR_OF.items():
        yield "color", f"What color is {thing}?", color, _opts(COLORS, color, rng)
    combos = list(itertools.combinations(range(len(SIZE_ORDER)), 4))
    for picks in rng.sample(combos, 40):
        animals = [SIZE_ORDER[i] for i in picks]
        big, small = animals[-1], animals[0]
        if rng.random() < 0.5:
            yield (
                "largest",
                f"Which of these animals is the largest: {', '.join(sorted(animals))}?",
                big,
                animals[:3],
            )
        else:
            yield (
                "smallest",
                f"Which of these animals is the smallest: {', '.join(sorted(animals))}?",
                small,
                animals[1:],
            )


def categories(rng: random.Random) -> Iterator[Item]:
    animals = {"mammal", "bird", "fish", "insect"}
    food = {"fruit", "vegetable", "drink"}
    for cat, members in CATEGORIES.items():
        near = animals if cat in animals else food if cat in food else {cat}
        pool = [m for c, ms in CATEGORIES.items() if c not in near for m in ms]
        art = "an" if cat[0] in "aeiou" else "a"
        for m in members:
            yield "category", f"Which of these is {art} {cat}?", m, _opts(pool, m, rng)


def calendar(rng: random.Random) -> Iterator[Item]:
    for seq, kind in ((DAYS, "day"), (MONTHS, "month")):  # four seasons leave no distractor that is not asked
        n = len(seq)
        for i, x in enumerate(seq):
            nxt, prev = seq[(i + 1) % n], seq[(i - 1) % n]
            yield "calendar", f"Which {kind} comes after {x}?", nxt, _opts(seq, nxt, rng, exclude=[x])
            yield "calendar", f"Which {kind} comes before {x}?", prev, _opts(seq, prev, rng, exclude=[x])


def numbers(rng: random.Random) -> Iterator[Item]:
    for q, n in COUNTS:
        yield "count", q, WORDS[n], _opts(WORDS[1:13], WORDS[n], rng)
    for i in range(1, 20):
        yield (
            "number_order",
            f"Which number comes after {WORDS[i]}?",
            WORDS[i + 1],
            _opts(WORDS[1:], WORDS[i + 1], rng, exclude=[WORDS[i]]),
        )
        yield (
            "number_order",
            f"Which number comes before {WORDS[i]}?",
            WORDS[i - 1],
            _opts(WORDS, WORDS[i - 1], rng, exclude=[WORDS[i]]),
        )
    pairs = [(a, b) for a in range(1, 10) for b in range(1, 10) if a + b <= 12]
    for a, b in rng.sample(pairs, 40):
        yield (
            "arithmetic",
            f"What is {WORDS[a]} plus {WORDS[b]}?",
            WORDS[a + b],
            _opts(WORDS[1:13], WORDS[a + b], rng, exclude=[WORDS[a], WORDS[b]]),
        )


def _an(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def everyday(rng: random.Random) -> Iterator[Item]:
    for task, thing in USE.items():
        yield "use", f"What do you use to {task}?", thing, _opts(list(USE.values()), thing, rng)
    for job, who in WHO.items():
        yield "job", f"Who {job}?", _an(who), [_an(w) for w in _opts(list(WHO.values()), who, rng)]
    for task, place in WHERE.items():
        yield (
            "place",
            f"Where do you go to {task}?",
            f"the {place}",
            [f"the {p}" for p in _opts(list(WHERE.values()), place, rng)],
        )


STOPWORDS = {"a", "an", "the", "of", "is", "in", "to"}
LISTS_ITS_OPTIONS = {"largest", "smallest"}  # "Which of these animals is the largest: cat, dog, ...?"


def _content(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower())) - STOPWORDS


GENERATORS = (geography, words, nature, categories, calendar, numbers, everyday)


def items(rng: random.Random) -> list[Item]:
    out = _no_copies([it for gen in GENERATORS for it in gen(rng)], rng)
    seen: set[tuple[str, str]] = set()
    for cat, q, a, wrong in out:
        copied = [w for w in wrong if _content(w) & _content(q)]
        assert not copied or cat in LISTS_ITS_OPTIONS, f"NO_COPY: {q} offers {copied}"
        assert (q, a) not in seen, f"duplicate question: {q} ({a})"
        seen.add((q, a))
        assert len(wrong) == 3 and a not in wrong and len(set(wrong)) == 3, (q, a, wrong)
    return out


def _no_copies(out: list[Item], rng: random.Random) -> list[Item]:
    """Replace a distractor that repeats a word of its question by another option of the same category."""
    pools: dict[str, set[str]] = {}
    for cat, _, a, wrong in out:
        pools.setdefault(cat, set()).update([a, *wrong])
    fixed = []
    for cat, q, a, wrong in out:
        if cat not in LISTS_ITS_OPTIONS and any(_content(w) & _content(q) for w in wrong):
            keep = [w for w in wrong if not _content(w) & _content(q)]
            spare = sorted(p for p in pools[cat] if p != a and p not in keep and not _content(p) & _content(q))
            wrong = keep + rng.sample(spare, 3 - len(keep))
        fixed.append((cat, q, a, wrong))
    return fixed


def rows(seed: int = SEED) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i, (cat, q, right, wrong) in enumerate(items(rng)):
        opts = list(wrong)
        rng.shuffle(opts)
        pos = i % 4  # balanced: a quarter of the answers at each letter
        opts.insert(pos, right)
        out.append({"id": f"mcl{i:04d}", "category": cat, "question": q, "choices": opts, "answer": pos})
    rng.shuffle(out)
    return out


def render(rs: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = p.parse_args(argv)
    text = render(rows())
    if args.check:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"stale: {OUT.name}; regenerate with: python scripts/make_mc_large.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"{OUT}: {text.count(chr(10))} questions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
