#!/usr/bin/env python3
"""Write the data of the quality packs (skills/evaluate/tasks/conductor_packs/<pack>.jsonl).

    python scripts/make_packs.py            # rewrites every pack, deterministically (seeded)
    python scripts/make_packs.py --check    # exit 1 if the committed files differ from what it writes

Every item is generated here from tables written for this project (no data set is downloaded) with a
fixed seed per pack. Each item carries its prompt, what the verifier checks, and a reference answer.
An item is kept only if its reference passes and every negative control of skills/evaluate/packs.py
(empty, echo, fixed strings, the next item's reference) fails; otherwise it is drawn again from the
same seeded stream, so the files are reproducible byte for byte.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from skills.evaluate.packs import PACK_DIR, check_items, load_utils  # noqa: E402 (after the sys.path line)

N_ITEMS = 120
SEEDS = {"tool_call": 1201, "instruct": 1202, "struct_output": 1203, "extract": 1204, "math": 1205}

NAMES = ["Alice", "Bruno", "Chen", "Dana", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kiri", "Lena",
         "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Yusuf"]
SURNAMES = ["Lopez", "Novak", "Okafor", "Berg", "Tanaka", "Silva", "Moreau", "Kowalski", "Haddad", "Olsen",
            "Rossi", "Adeyemi", "Fischer", "Costa", "Ivanova", "Murphy"]
CITIES = ["Paris", "Rome", "Tokyo", "Madrid", "Berlin", "Lisbon", "Oslo", "Cairo", "Lima", "Seoul", "Dublin",
          "Vienna", "Prague", "Athens", "Nairobi", "Toronto", "Sydney", "Warsaw", "Helsinki", "Bangkok"]
COUNTRIES = {"Paris": "France", "Rome": "Italy", "Tokyo": "Japan", "Madrid": "Spain", "Berlin": "Germany",
             "Lisbon": "Portugal", "Oslo": "Norway", "Cairo": "Egypt", "Lima": "Peru", "Seoul": "South Korea",
             "Dublin": "Ireland", "Vienna": "Austria", "Prague": "Czechia", "Athens": "Greece", "Nairobi": "Kenya",
             "Toronto": "Canada", "Sydney": "Australia", "Warsaw": "Poland", "Helsinki": "Finland",
             "Bangkok": "Thailand"}


def person(rng: random.Random) -> str:
    return f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}"


# ------------------------------------------------------------------ tool_call

def _tool(name: str, desc: str, **params: str) -> dict[str, Any]:
    return {"name": name, "description": desc,
            "parameters": {"type": "object", "properties": {k: {"type": t} for k, t in params.items()},
                           "required": list(params)}}


TOOLS = {
    "get_weather": _tool("get_weather", "Current weather in a city", city="string"),
    "set_timer": _tool("set_timer", "Start a countdown timer", minutes="integer"),
    "send_email": _tool("send_email", "Send an email", to="string", subject="string"),
    "convert_currency": _tool("convert_currency", "Convert an amount of money", amount="number",
                              from_currency="string", to_currency="string"),
    "get_stock_price": _tool("get_stock_price", "Latest price of a stock", symbol="string"),
    "translate_text": _tool("translate_text", "Translate text", text="string", target_language="string"),
    "book_table": _tool("book_table", "Reserve a restaurant table", restaurant="string", people="integer"),
    "play_song": _tool("play_song", "Play a song", title="string"),
    "add_to_cart": _tool("add_to_cart", "Add an item to the shopping cart", item="string", quantity="integer"),
    "get_time": _tool("get_time", "Current local time in a city", city="string"),
    "search_flights": _tool("search_flights", "Find flights between two cities", origin="string",
                            destination="string"),
    "set_alarm": _tool("set_alarm", "Set an alarm for an hour of the day (0-23)", hour="integer"),
}
SONGS = ["Blue Horizon", "Paper Moon", "Silver Rain", "Northern Lights", "Golden Road", "Quiet Harbor"]
ITEMS = ["apples", "batteries", "notebooks", "candles", "towels", "lemons", "pencils", "socks"]
RESTAURANTS = ["Luna Bistro", "The Green Fork", "Sakura House", "Casa Verde", "Blue Door Cafe"]
STOCKS = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "IBM"]
LANGS = ["French", "German", "Spanish", "Italian", "Japanese"]
PHRASES = ["good morning", "thank you very much", "where is the station", "see you tomorrow", "happy birthday"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF"]
SUBJECTS = ["Meeting notes", "Project update", "Lunch on Friday", "Invoice question", "Holiday plans"]


def _request(rng: random.Random, tool: str) -> tuple[str, dict[str, Any]]:
    if tool == "get_weather":
        c = rng.choice(CITIES)
        return rng.choice([f"What's the weather like in {c} right now?", f"Is it raining in {c}?"]), {"city": c}
    if tool == "get_time":
        c = rng.choice(CITIES)
        return rng.choice([f"What time is it in {c}?", f"Tell me the local time in {c}."]), {"city": c}
    if tool == "set_timer":
        m = rng.choice([3, 5, 7, 10, 12, 15, 20, 25, 30, 45])
        return rng.choice([f"Set a timer for {m} minutes.", f"Start a {m} minute timer please."]), {"minutes": m}
    if tool == "set_alarm":
        h = rng.randint(5, 11)
        return f"Wake me up with an alarm at {h} o'clock in the morning.", {"hour": h}
    if tool == "send_email":
        who, subj = rng.choice(NAMES).lower() + "@example.com", rng.choice(SUBJECTS)
        return f'Email {who} with the subject "{subj}".', {"to": who, "subject": subj}
    if tool == "convert_currency":
        a, f, t = rng.choice([20, 50, 75, 100, 250, 1200]), *rng.sample(CURRENCIES, 2)
        return f"How much is {a} {f} in {t}?", {"amount": a, "from_currency": f, "to_currency": t}
    if tool == "get_stock_price":
        s = rng.choice(STOCKS)
        return f"What is the current price of {s} stock?", {"symbol": s}
    if tool == "translate_text":
        p, lang = rng.choice(PHRASES), rng.choice(LANGS)
        return f'Translate "{p}" into {lang}.', {"text": p, "target_language": lang}
    if tool == "book_table":
        r, n = rng.choice(RESTAURANTS), rng.randint(2, 8)
        return f"Book a table for {n} people at {r}.", {"restaurant": r, "people": n}
    if tool == "play_song":
        s = rng.choice(SONGS)
        return f'Play the song "{s}".', {"title": s}
    if tool == "add_to_cart":
        it, q = rng.choice(ITEMS), rng.randint(2, 9)
        return f"Add {q} {it} to my cart.", {"item": it, "quantity": q}
    if tool == "search_flights":
        o, d = rng.sample(CITIES, 2)
        return f"Find me flights from {o} to {d}.", {"origin": o, "destination": d}
    raise KeyError(tool)


def make_tool_call(rng: random.Random, i: int) -> dict[str, Any]:
    names = sorted(TOOLS)
    target = names[i % len(names)] if i < 2 * len(names) else rng.choice(names)
    others = rng.sample([n for n in names if n != target], 2)
    listed = [target, *others]
    rng.shuffle(listed)
    request, args = _request(rng, target)
    tools = "\n".join(json.dumps(TOOLS[n]) for n in listed)
    prompt = (f"You can call these tools:\n{tools}\n\nUser: {request}\n\n"
              'Reply with only the tool call as JSON: {"name": <tool name>, "arguments": {<argument>: <value>}}')
    expected = {"name": target, "arguments": args}
    return {"prompt": prompt, "expected": expected, "reference": json.dumps(expected)}


# ------------------------------------------------------------------ instruct

# topic, keyword, a short sentence with the keyword (no commas), four bullet items (the first has the keyword)
TOPICS = [
    ("the sea", "waves", "The sea moves in slow waves", ["waves", "salt", "boats", "shells"]),
    ("a cat", "whiskers", "My cat cleans her long whiskers", ["whiskers", "paws", "naps", "milk"]),
    ("winter", "snow", "Winter brings cold snow to the hills", ["snow", "scarves", "ice", "long nights"]),
    ("a garden", "flowers", "The garden is full of red flowers", ["flowers", "soil", "bees", "a hose"]),
    ("the moon", "craters", "The moon is covered in old craters", ["craters", "tides", "phases", "dust"]),
    ("a library", "books", "The library keeps thousands of books", ["books", "quiet", "desks", "cards"]),
    ("a train ride", "tracks", "The train hums along the tracks", ["tracks", "tickets", "stations", "seats"]),
    ("breakfast", "toast", "I eat warm toast for breakfast", ["toast", "eggs", "tea", "fruit"]),
    ("a forest", "trees", "The forest is dark under tall trees", ["trees", "moss", "birds", "paths"]),
    ("rain", "puddles", "Rain leaves puddles on the street", ["puddles", "umbrellas", "clouds", "boots"]),
    ("a city at night", "lights", "The city glows with bright lights", ["lights", "taxis", "music", "bridges"]),
    ("a bicycle", "pedals", "A bicycle moves when you push the pedals", ["pedals", "wheels", "a bell", "brakes"]),
    ("the desert", "sand", "The desert is an ocean of sand", ["sand", "heat", "camels", "dunes"]),
    ("a birthday", "cake", "We shared a big cake on my birthday", ["cake", "candles", "gifts", "songs"]),
    ("the kitchen", "oven", "The kitchen smells of bread from the oven", ["oven", "pans", "spoons", "a sink"]),
    ("music", "melody", "A good song needs a simple melody", ["melody", "rhythm", "drums", "voices"]),
    ("a mountain", "summit", "We reached the summit at noon", ["summit", "rocks", "wind", "trails"]),
    ("the beach", "shells", "Children collect shells on the beach", ["shells", "sand", "towels", "sun"]),
    ("a dog", "tail", "The dog wags its tail at the door", ["tail", "bones", "walks", "a leash"]),
    ("autumn", "leaves", "Autumn paints the leaves orange", ["leaves", "rain", "apples", "wind"]),
    ("a school", "teachers", "Good teachers make a school happy", ["teachers", "desks", "books", "bells"]),
    ("coffee", "beans", "Coffee starts as small green beans", ["beans", "cups", "milk", "steam"]),
    ("the sky", "clouds", "White clouds drift across the sky", ["clouds", "stars", "birds", "the sun"]),
    ("a river", "bridge", "An old bridge crosses the river", ["bridge", "fish", "boats", "stones"]),
    ("a museum", "paintings", "The museum shows famous paintings", ["paintings", "statues", "guides", "maps"]),
    ("the farm", "cows", "The cows on the farm give fresh milk", ["cows", "hay", "a barn", "hens"]),
    ("space", "planets", "Space is home to many planets", ["planets", "stars", "comets", "rockets"]),
    ("a market", "stalls", "The market has rows of busy stalls", ["stalls", "fruit", "bread", "flowers"]),
    ("a storm", "thunder", "The storm brought loud thunder", ["thunder", "rain", "wind", "lightning"]),
    ("a park", "benches", "The park has green benches by the pond", ["benches", "ducks", "paths", "trees"]),
]
TASKS = ["Write a sentence about {t}.", "Say something about {t}.", "Describe {t} briefly.",
         "Tell me about {t}."]
END_PHRASES = ["that is all", "thank you", "see you soon", "the end"]
START_PHRASES = ["Here is my answer", "Today", "In short", "Well"]
BANNED = ["very", "really", "beautiful", "nice"]


def _instruct_variant(rng: random.Random, topic: tuple[str, str, str, list[str]], kind: int
                      ) -> tuple[str, list[dict[str, Any]], str]:
    t, kw, sent, bullets = topic
    task = rng.choice(TASKS).format(t=t)
    inc = {"type": "include_words", "words": [kw]}
    inc_s = f'Use the word "{kw}".'
    if kind == 0:
        return f"{task} {inc_s} Write only in lowercase letters.", [inc, {"type": "lowercase"}], sent.lower() + "."
    if kind == 1:
        n = rng.randint(len(sent.split()) + 1, 14)
        return f"{task} {inc_s} Use at most {n} words.", [inc, {"type": "max_words", "n": n}], sent + "."
    if kind == 2:
        return f"{task} {inc_s} Write only in capital letters.", [inc, {"type": "uppercase"}], sent.upper() + "."
    if kind == 3:
        n = rng.randint(2, 4)
        return ((f'List {n} things about {t} as bullet points, each line starting with "- ". '
                 f'Give exactly {n} bullet points. {inc_s}'),
                [{"type": "bullets", "n": n}, inc], "\n".join(f"- {b}" for b in bullets[:n]))
    if kind == 4:
        p = rng.choice(END_PHRASES)
        return (f'End your reply with the words "{p}". {task} {inc_s} Use at most 20 words.',
                [{"type": "end_with", "phrase": p}, inc, {"type": "max_words", "n": 20}], f"{sent} and {p}.")
    if kind == 5:
        p = rng.choice(START_PHRASES)
        return (f'{task} {inc_s} Start your reply with the words "{p}".',
                [inc, {"type": "start_with", "phrase": p}], f"{p} {sent[0].lower()}{sent[1:]}.")
    if kind == 6:
        b = rng.choice(BANNED)
        n = rng.randint(len(sent.split()) + 2, 16)
        return (f'{task} {inc_s} Do not use the word "{b}". Use at most {n} words.',
                [inc, {"type": "exclude_words", "words": [b]}, {"type": "max_words", "n": n}], sent + ".")
    n = rng.randint(4, len(sent.split()))
    return (f"{task} {inc_s} Use at least {n} words and no commas. Keep it to one sentence of at most 15 words.",
            [inc, {"type": "min_words", "n": n}, {"type": "no_commas"}, {"type": "max_words", "n": 15}], sent + ".")


def make_instruct(rng: random.Random, i: int) -> dict[str, Any]:
    topic = TOPICS[i % len(TOPICS)]
    prompt, constraints, ref = _instruct_variant(rng, topic, (i // len(TOPICS) * 3 + i) % 8)
    return {"prompt": prompt, "constraints": constraints, "reference": ref}


# ------------------------------------------------------------------ struct_output

COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]
PRODUCTS = ["desk lamp", "water bottle", "backpack", "phone case", "wall clock", "coffee mug", "rain jacket"]
BOOKS = ["The Quiet Orchard", "Maps of Salt", "A Year of Small Things", "The Glass River", "North of Noon"]
SPECIES = ["cat", "dog", "rabbit", "parrot", "turtle", "hamster"]


def _record(rng: random.Random, kind: int) -> tuple[str, str, dict[str, tuple[str, Any]]]:
    """(what it is, a sentence giving the values, key -> (type, value))."""
    if kind == 0:
        n, a = rng.choice(NAMES), rng.randint(18, 79)
        return "person", f"{n} is {a} years old.", {"name": ("string", n), "age": ("integer", a)}
    if kind == 1:
        c = rng.choice(CITIES)
        return "city", f"{c} is a city in {COUNTRIES[c]}.", {"city": ("string", c), "country": ("string", COUNTRIES[c])}
    if kind == 2:
        p, price, stock = rng.choice(PRODUCTS), rng.choice([4.5, 9.99, 12.0, 15.25, 24.5, 39.9]), rng.random() < 0.5
        state = "in stock" if stock else "sold out"
        return ("product", f"The {p} costs {price} dollars and is {state}.",
                {"product": ("string", p), "price": ("number", price), "in_stock": ("boolean", stock)})
    if kind == 3:
        b, y = rng.choice(BOOKS), rng.randint(1950, 2023)
        return "book", f'The book "{b}" was published in {y}.', {"title": ("string", b), "year": ("integer", y)}
    if kind == 4:
        cs = rng.sample(COLORS, 3)
        return ("list", f"The flag has three colors: {cs[0]} then {cs[1]} then {cs[2]}.",
                {"colors": ("array", cs)})
    n, s, a = rng.choice(NAMES), rng.choice(SPECIES), rng.randint(1, 15)
    return "pet", f"{n} is a {s} who is {a} years old.", {"name": ("string", n), "species": ("string", s),
                                                           "age": ("integer", a)}


def _zero(typ: str) -> Any:
    return {"string": "", "integer": 0, "number": 0.0, "boolean": False, "array": []}[typ]


def make_struct_output(rng: random.Random, i: int) -> dict[str, Any]:
    what, sentence, fields = _record(rng, i % 6)
    style = (i // 6) % 3
    keys = ", ".join(f'"{k}" ({t})' for k, (t, _) in fields.items())
    values = {k: v for k, (_, v) in fields.items()}
    if style == 0:
        template = json.dumps({k: _zero(t) for k, (t, _) in fields.items()})
        prompt = f"Fill in this JSON template and reply with the JSON only: {template}\nThe {what}: {sentence}"
        fmt, ref = "json", json.dumps(values)
    elif style == 1:
        prompt = f"Reply with a JSON object with the keys {keys} for this {what}: {sentence}"
        fmt, ref = "json", json.dumps(values)
    else:
        prompt = f"Reply in YAML, a mapping with the keys {keys.replace(chr(34), '')}, for this {what}: {sentence}"
        fmt, ref = "yaml", _yaml(values)
    return {"prompt": prompt, "format": fmt, "reference": ref,
            "fields": {k: {"type": t, "value": v} for k, (t, v) in fields.items()}}


def _yaml(values: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(values, sort_keys=False, default_flow_style=False).strip()


# ------------------------------------------------------------------ extract

HOTELS = ["Harbor Hotel", "Hotel Miramar", "The Pine Lodge", "Grand Central Inn", "Seaview Rooms"]
COMPANIES = ["Bright Paper Co.", "Nordic Tools", "Sunrise Bakery", "Atlas Freight", "Green Leaf Farms"]
ROLES = ["data analyst", "nurse", "bus driver", "web designer", "chef", "electrician"]
EVENTS = ["jazz concert", "book fair", "food festival", "chess tournament", "film night"]


def _document(rng: random.Random, kind: int) -> tuple[str, dict[str, Any]]:
    if kind == 0:
        g, h, n = person(rng), rng.choice(HOTELS), rng.randint(2, 9)
        total = n * rng.choice([80, 95, 110, 120, 150])
        clerk = person(rng)
        return ((f"{g} booked a room at the {h} for {n} nights. The total price was {total} dollars. "
                 f"The booking was handled by {clerk} at the front desk."),
                {"guest": g, "hotel": h, "nights": n, "total": total})
    if kind == 1:
        c, items, amount = rng.choice(COMPANIES), rng.randint(2, 12), rng.choice([86, 140, 235, 410, 1250])
        buyer = person(rng)
        return ((f"Invoice from {c} to {buyer}: {items} items were delivered, and the amount due is {amount} "
                 f"dollars, payable within 30 days."), {"seller": c, "buyer": buyer, "items": items, "amount": amount})
    if kind == 2:
        co, role = rng.choice(COMPANIES), rng.choice(ROLES)
        salary, city = rng.choice([32000, 41000, 55000, 68000]), rng.choice(CITIES)
        return ((f"{co} is hiring a {role} in {city}. The position pays {salary} dollars a year, and the "
                 f"team has 14 people."), {"company": co, "role": role, "city": city, "salary": salary})
    if kind == 3:
        o, d = rng.sample(CITIES, 2)
        kg, sender = rng.choice([3, 7, 12, 18, 25, 40]), person(rng)
        return (f"A parcel of {kg} kg sent by {sender} left {o} on Monday and is travelling to {d}.",
                {"sender": sender, "origin": o, "destination": d, "weight_kg": kg})
    ev, city, tickets = rng.choice(EVENTS), rng.choice(CITIES), rng.randint(2, 6)
    buyer = person(rng)
    return ((f"{buyer} bought {tickets} tickets for the {ev} in {city}. Doors open at 7 and the show "
             f"lasts two hours."), {"buyer": buyer, "event": ev, "city": city, "tickets": tickets})


def make_extract(rng: random.Random, i: int) -> dict[str, Any]:
    doc, fields = _document(rng, i % 5)
    template = json.dumps({k: ("" if isinstance(v, str) else 0) for k, v in fields.items()})
    prompt = f"Text: {doc}\n\nFill in this JSON with the facts from the text and reply with the JSON only:\n{template}"
    return {"prompt": prompt, "fields": fields, "reference": json.dumps(fields)}


# ------------------------------------------------------------------ math

THINGS = ["apples", "marbles", "stickers", "books", "coins", "cookies", "pencils", "stamps"]


def _problem(rng: random.Random, kind: int) -> tuple[str, int]:
    a, b = rng.randint(11, 89), rng.randint(11, 89)
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    if kind == 0:
        return f"What is {a} + {b}?", a + b
    if kind == 1:
        hi, lo = max(a, b), min(a, b)
        return f"What is {hi} - {lo}?", hi - lo
    if kind == 2:
        x, y = rng.randint(2, 9), rng.randint(2, 9)
        return f"What is {x} times {y}?", x * y
    if kind == 3:
        x, y = rng.randint(3, 20), rng.randint(2, 15)
        return f"{name} has {x} {thing} and gets {y} more. How many {thing} does {name} have now?", x + y
    if kind == 4:
        x, y = rng.randint(12, 40), rng.randint(2, 11)
        return f"{name} had {x} {thing} and gave away {y}. How many {thing} are left?", x - y
    if kind == 5:
        x, y = rng.randint(2, 9), rng.randint(2, 9)
        return f"There are {x} boxes with {y} {thing} in each box. How many {thing} are there in total?", x * y
    if kind == 6:
        start, step = rng.randint(1, 20), rng.randint(2, 9)
        seq = [start + k * step for k in range(4)]
        return f"What number comes next: {', '.join(map(str, seq))}, ...?", start + 4 * step
    if kind == 7:
        x = rng.randint(6, 49)
        return f"What is double {x}?", 2 * x
    if kind == 8:
        x = 2 * rng.randint(6, 49)
        return f"What is half of {x}?", x // 2
    h = rng.randint(2, 9)
    return f"How many minutes are there in {h} hours?", 60 * h


def make_math(rng: random.Random, i: int) -> dict[str, Any]:
    q, ans = _problem(rng, i % 10)
    prompt = q + (" Answer with the number only." if (i // 10) % 2 else "")
    return {"prompt": prompt, "answer": ans, "reference": f"The answer is {ans}."}


# ------------------------------------------------------------------ writing

MAKERS: dict[str, Callable[[random.Random, int], dict[str, Any]]] = {
    "tool_call": make_tool_call, "instruct": make_instruct, "struct_output": make_struct_output,
    "extract": make_extract, "math": make_math,
}


def build(pack: str, n: int = N_ITEMS, max_rounds: int = 50) -> list[dict[str, Any]]:
    """n items, each redrawn (from the same seeded stream) until its controls behave."""
    rng = random.Random(SEEDS[pack])
    verify = load_utils().VERIFIERS[pack]

    def item(i: int) -> dict[str, Any]:
        return {"id": f"{pack}-{i:03d}", "pack": pack, **MAKERS[pack](rng, i)}

    items = [item(i) for i in range(n)]
    for _ in range(max_rounds):
        res = check_items(pack, items, verify, min_items=n)
        bad = sorted({int(r["id"].rsplit("-", 1)[1]) for r in res.control_passes + res.reference_failures})
        if not bad:
            return items
        for i in bad:
            items[i] = item(i)
    raise SystemExit(f"{pack}: items {bad[:5]} still fail their controls after {max_rounds} redraws")


def render(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(it, ensure_ascii=False, sort_keys=True) + "\n" for it in items)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a committed file differs")
    args = p.parse_args(argv)
    stale = []
    for pack in MAKERS:
        text = render(build(pack))
        path = PACK_DIR / f"{pack}.jsonl"
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{path.relative_to(REPO)}: {text.count(chr(10))} items")
    if stale:
        print(f"stale pack data: {', '.join(stale)}; regenerate with: python scripts/make_packs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
