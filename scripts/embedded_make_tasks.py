#!/usr/bin/env python3
"""Write the data of the offline evaluation tasks shipped in skills/evaluate/tasks/.

    python scripts/embedded_make_tasks.py            # rewrites the .jsonl files, deterministically

Every question below was written for this project (no data set was downloaded). They are simple,
unambiguous facts and common sense, so that SmolLM2-135M-Instruct scores clearly above chance and a
quantization regression shows as a drop. The correct option's position is balanced across A-D by a
fixed rotation (not left where it was written), so "always pick the first" scores 25%.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

TASKS = Path(__file__).resolve().parents[1] / "skills" / "evaluate" / "tasks"

# (question, correct answer, three wrong answers)
MC: list[tuple[str, str, list[str]]] = [
    # geography
    ("What is the capital of France?", "Paris", ["Berlin", "Madrid", "Rome"]),
    ("What is the capital of Japan?", "Tokyo", ["Beijing", "Seoul", "Bangkok"]),
    ("What is the capital of Italy?", "Rome", ["Milan", "Paris", "Vienna"]),
    ("What is the capital of Germany?", "Berlin", ["Munich", "Vienna", "Paris"]),
    ("What is the capital of Spain?", "Madrid", ["Barcelona", "Lisbon", "Rome"]),
    ("What is the capital of the United Kingdom?", "London", ["Dublin", "Paris", "Edinburgh"]),
    ("What is the capital of Russia?", "Moscow", ["Kyiv", "Warsaw", "Minsk"]),
    ("What is the capital of Egypt?", "Cairo", ["Nairobi", "Tunis", "Baghdad"]),
    ("What is the capital of China?", "Beijing", ["Shanghai", "Tokyo", "Hong Kong"]),
    ("What is the capital of Canada?", "Ottawa", ["Toronto", "Vancouver", "Montreal"]),
    ("What is the capital of Australia?", "Canberra", ["Sydney", "Melbourne", "Perth"]),
    ("What is the capital of Greece?", "Athens", ["Sparta", "Rome", "Istanbul"]),
    (
        "Which is the largest ocean on Earth?",
        "the Pacific Ocean",
        ["the Atlantic Ocean", "the Indian Ocean", "the Arctic Ocean"],
    ),
    ("On which continent is Egypt?", "Africa", ["Europe", "Asia", "South America"]),
    ("On which continent is Brazil?", "South America", ["Africa", "Europe", "Asia"]),
    ("On which continent is India?", "Asia", ["Africa", "Europe", "Australia"]),
    ("Which country is home to the Eiffel Tower?", "France", ["Italy", "Germany", "Spain"]),
    ("Which is the longest river in Africa?", "the Nile", ["the Thames", "the Danube", "the Seine"]),
    ("Which is the highest mountain in the world?", "Mount Everest", ["Mont Blanc", "Mount Fuji", "Ben Nevis"]),
    ("Which desert is the largest hot desert in the world?", "the Sahara", ["the Gobi", "the Kalahari", "the Mojave"]),
    ("Which country has the largest population of kangaroos?", "Australia", ["Canada", "Norway", "Argentina"]),
    ("In which country are the pyramids of Giza?", "Egypt", ["Mexico", "Peru", "Greece"]),
    ("Which city is known as the Big Apple?", "New York", ["Chicago", "Los Angeles", "Boston"]),
    ("What language is mainly spoken in Brazil?", "Portuguese", ["Spanish", "French", "Italian"]),
    ("What language is mainly spoken in Mexico?", "Spanish", ["Portuguese", "French", "German"]),
    ("What is the currency of Japan?", "the yen", ["the dollar", "the euro", "the peso"]),
    ("What is the currency of the United States?", "the dollar", ["the yen", "the pound", "the rupee"]),
    ("Which country is shaped like a boot?", "Italy", ["France", "Chile", "Norway"]),
    # science
    ("What gas do plants absorb from the air to make food?", "carbon dioxide", ["oxygen", "helium", "nitrogen"]),
    ("What gas do humans need to breathe to stay alive?", "oxygen", ["carbon dioxide", "helium", "hydrogen"]),
    ("What is the chemical formula of water?", "H2O", ["CO2", "NaCl", "O2"]),
    ("At what temperature in degrees Celsius does water freeze?", "0", ["100", "50", "-40"]),
    ("At what temperature in degrees Celsius does water boil at sea level?", "100", ["0", "50", "212"]),
    ("Which planet is closest to the Sun?", "Mercury", ["Venus", "Earth", "Mars"]),
    ("Which planet is known as the Red Planet?", "Mars", ["Venus", "Jupiter", "Saturn"]),
    ("Which is the largest planet in our solar system?", "Jupiter", ["Mars", "Earth", "Mercury"]),
    ("Which planet do we live on?", "Earth", ["Mars", "Venus", "Jupiter"]),
    ("What is the center of an atom called?", "the nucleus", ["the electron", "the shell", "the membrane"]),
    ("What force pulls objects toward the ground?", "gravity", ["magnetism", "friction", "wind"]),
    ("What is the star at the center of our solar system?", "the Sun", ["the Moon", "Polaris", "Sirius"]),
    ("What does a thermometer measure?", "temperature", ["weight", "distance", "time"]),
    ("What does a compass needle point toward?", "north", ["south", "east", "west"]),
    ("What is frozen water called?", "ice", ["steam", "sand", "glass"]),
    ("What is water vapour from boiling water called?", "steam", ["ice", "snow", "smoke"]),
    ("Which organ pumps blood through the human body?", "the heart", ["the liver", "the lungs", "the stomach"]),
    ("Which organ do humans use to breathe?", "the lungs", ["the heart", "the kidneys", "the stomach"]),
    ("Which organ controls thinking in the human body?", "the brain", ["the heart", "the liver", "the lungs"]),
    ("How many bones does an adult human have, approximately?", "206", ["12", "1000", "52"]),
    ("What is the hardest natural substance?", "diamond", ["gold", "iron", "chalk"]),
    ("Which metal is liquid at room temperature?", "mercury", ["iron", "gold", "copper"]),
    ("What do bees make?", "honey", ["milk", "silk", "wool"]),
    ("What color is chlorophyll, the pigment in leaves?", "green", ["red", "blue", "black"]),
    ("What kind of energy does a solar panel collect?", "sunlight", ["wind", "coal", "sound"]),
    ("Which sense do we use our ears for?", "hearing", ["sight", "taste", "smell"]),
    ("Which sense do we use our eyes for?", "sight", ["hearing", "taste", "touch"]),
    ("What is the closest natural satellite to Earth?", "the Moon", ["the Sun", "Mars", "Venus"]),
    (
        "What is the opposite of a magnet's north pole?",
        "the south pole",
        ["the east pole", "the west pole", "the top pole"],
    ),
    ("What is the path of the Earth around the Sun called?", "an orbit", ["a tunnel", "a river", "a bridge"]),
    # animals and nature
    ("How many legs does a spider have?", "eight", ["six", "four", "ten"]),
    ("How many legs does an insect have?", "six", ["eight", "four", "ten"]),
    ("How many legs does a dog have?", "four", ["two", "six", "eight"]),
    ("How many legs does a bird have?", "two", ["four", "six", "eight"]),
    ("What is the largest animal on Earth?", "the blue whale", ["the elephant", "the giraffe", "the shark"]),
    ("What is the tallest animal?", "the giraffe", ["the elephant", "the horse", "the camel"]),
    ("Which animal is known as the king of the jungle?", "the lion", ["the mouse", "the rabbit", "the sheep"]),
    ("What do caterpillars turn into?", "butterflies", ["spiders", "frogs", "birds"]),
    ("What do tadpoles grow into?", "frogs", ["fish", "snakes", "birds"]),
    ("What is a baby cat called?", "a kitten", ["a puppy", "a calf", "a foal"]),
    ("What is a baby dog called?", "a puppy", ["a kitten", "a lamb", "a chick"]),
    ("What is a baby sheep called?", "a lamb", ["a calf", "a kid", "a puppy"]),
    ("What is a baby cow called?", "a calf", ["a lamb", "a kitten", "a chick"]),
    ("Which animal gives us wool?", "the sheep", ["the cow", "the chicken", "the fish"]),
    (
        "Which animal lays eggs that people commonly eat for breakfast?",
        "the chicken",
        ["the cow", "the pig", "the horse"],
    ),
    ("Which animal has a trunk?", "the elephant", ["the zebra", "the lion", "the rabbit"]),
    ("Which animal is famous for its black and white stripes?", "the zebra", ["the lion", "the elephant", "the camel"]),
    (
        "Which animal can store water and travel long distances in the desert?",
        "the camel",
        ["the penguin", "the dolphin", "the frog"],
    ),
    ("Which bird cannot fly and lives in Antarctica?", "the penguin", ["the eagle", "the sparrow", "the parrot"]),
    ("Where do fish live?", "in water", ["in trees", "in deserts", "in the sky"]),
    ("What do cows drink?", "water", ["milk", "coffee", "juice"]),
    ("Which animal says 'moo'?", "a cow", ["a dog", "a cat", "a duck"]),
    ("Which animal barks?", "a dog", ["a cat", "a cow", "a fish"]),
    (
        "Which animal is known for hopping and carrying its baby in a pouch?",
        "the kangaroo",
        ["the bear", "the wolf", "the horse"],
    ),
    ("What do pandas mainly eat?", "bamboo", ["fish", "meat", "grass seeds"]),
    ("What is a group of wolves called?", "a pack", ["a flock", "a school", "a swarm"]),
    ("In which season do leaves commonly fall from trees?", "autumn", ["spring", "summer", "midsummer"]),
    ("What falls from clouds when it rains?", "water", ["sand", "sugar", "leaves"]),
    ("What color is the sky on a clear day?", "blue", ["green", "red", "brown"]),
    ("What color is grass?", "green", ["blue", "purple", "orange"]),
    ("What color are ripe bananas?", "yellow", ["blue", "purple", "black"]),
    ("What color is snow?", "white", ["black", "green", "red"]),
    # everyday common sense
    ("What do you use to cut paper?", "scissors", ["a spoon", "a pillow", "a cup"]),
    ("What do you use to write on a blackboard?", "chalk", ["a fork", "soap", "a sponge"]),
    (
        "What do people use an umbrella for?",
        "to stay dry in the rain",
        ["to cook food", "to brush teeth", "to make music"],
    ),
    ("Where do people usually sleep?", "in a bed", ["in a sink", "in a fridge", "in an oven"]),
    ("What do you use to unlock a door?", "a key", ["a spoon", "a book", "a shoe"]),
    ("Where do you keep food cold?", "in a refrigerator", ["in an oven", "in a toaster", "in a microwave"]),
    ("What do you wear on your feet?", "shoes", ["hats", "gloves", "scarves"]),
    ("What do you wear on your hands to keep them warm?", "gloves", ["socks", "boots", "a belt"]),
    ("What do you use to brush your teeth?", "a toothbrush", ["a hairbrush", "a fork", "a pen"]),
    ("What do you call the meal eaten in the morning?", "breakfast", ["dinner", "supper", "lunch"]),
    ("Where do you go to borrow books?", "a library", ["a bakery", "a garage", "a swimming pool"]),
    ("Where do you go to see a doctor when you are very sick?", "a hospital", ["a bakery", "a cinema", "a zoo"]),
    ("Who teaches students in a school?", "a teacher", ["a pilot", "a farmer", "a chef"]),
    ("Who flies an airplane?", "a pilot", ["a dentist", "a baker", "a librarian"]),
    ("Who puts out fires?", "firefighters", ["bakers", "painters", "singers"]),
    ("What is used to tell the time?", "a clock", ["a ladder", "a spoon", "a pillow"]),
    ("If you are thirsty, what should you drink?", "water", ["sand", "oil", "glue"]),
    ("If it is dark in a room, what can you turn on?", "a light", ["a faucet", "a fridge", "a shower"]),
    ("What happens to ice when it is left in the sun?", "it melts", ["it grows", "it freezes", "it turns to stone"]),
    ("What do you need to see when it is dark outside?", "a flashlight", ["a spoon", "a blanket", "a sock"]),
    ("What is the opposite of hot?", "cold", ["warm", "big", "fast"]),
    ("What is the opposite of up?", "down", ["left", "over", "high"]),
    ("What is the opposite of big?", "small", ["large", "tall", "wide"]),
    ("What is the opposite of day?", "night", ["morning", "noon", "sun"]),
    ("What is the opposite of happy?", "sad", ["glad", "cheerful", "funny"]),
    ("What is the opposite of fast?", "slow", ["quick", "rapid", "loud"]),
    ("What is the opposite of open?", "closed", ["wide", "empty", "clean"]),
    ("What is the opposite of wet?", "dry", ["damp", "cold", "soft"]),
    # time and numbers
    ("How many days are there in a week?", "seven", ["five", "ten", "twelve"]),
    ("How many months are there in a year?", "twelve", ["ten", "seven", "fifty-two"]),
    ("How many hours are there in a day?", "24", ["12", "60", "7"]),
    ("How many minutes are there in an hour?", "60", ["24", "100", "12"]),
    ("How many seconds are there in a minute?", "60", ["100", "24", "30"]),
    ("How many days are there in a leap year?", "366", ["365", "360", "300"]),
    ("Which month comes after January?", "February", ["March", "December", "June"]),
    ("Which month comes before December?", "November", ["January", "October", "March"]),
    ("Which day comes after Monday?", "Tuesday", ["Sunday", "Friday", "Thursday"]),
    ("Which day comes before Saturday?", "Friday", ["Sunday", "Monday", "Wednesday"]),
    ("What is the first month of the year?", "January", ["March", "December", "July"]),
    ("What is 2 plus 2?", "4", ["3", "5", "22"]),
    ("What is 5 plus 3?", "8", ["7", "9", "53"]),
    ("What is 10 minus 4?", "6", ["5", "7", "14"]),
    ("What is 3 times 3?", "9", ["6", "12", "33"]),
    ("What is 10 times 10?", "100", ["20", "1000", "110"]),
    ("What is half of 10?", "5", ["2", "20", "15"]),
    ("How many sides does a triangle have?", "three", ["four", "five", "six"]),
    ("How many sides does a square have?", "four", ["three", "five", "eight"]),
    ("How many wheels does a bicycle have?", "two", ["three", "four", "six"]),
    ("How many wheels does a typical car have?", "four", ["two", "three", "six"]),
    ("How many fingers are on one human hand?", "five", ["four", "six", "ten"]),
    ("How many cents are in one US dollar?", "100", ["10", "50", "1000"]),
    ("How many centimeters are in one meter?", "100", ["10", "1000", "12"]),
    ("How many grams are in one kilogram?", "1000", ["100", "10", "60"]),
    ("How many players are on the field for one soccer team?", "eleven", ["five", "six", "nine"]),
    # language and culture
    ("What is the plural of 'mouse'?", "mice", ["mouses", "meese", "mousen"]),
    ("What is the plural of 'child'?", "children", ["childs", "childes", "childer"]),
    ("What is the plural of 'foot'?", "feet", ["foots", "feets", "footes"]),
    ("Which letter comes after A in the English alphabet?", "B", ["C", "Z", "D"]),
    ("How many letters are in the English alphabet?", "26", ["24", "30", "20"]),
    ("Which word is a color?", "red", ["table", "run", "happy"]),
    ("Which word is an animal?", "horse", ["chair", "blue", "jump"]),
    ("Which word is a fruit?", "apple", ["carrot", "bread", "cheese"]),
    ("Which of these is a vegetable?", "carrot", ["apple", "banana", "grape"]),
    ("Who wrote 'Romeo and Juliet'?", "William Shakespeare", ["Charles Dickens", "Mark Twain", "Jane Austen"]),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci", ["Pablo Picasso", "Vincent van Gogh", "Claude Monet"]),
    (
        "Who was the first person to walk on the Moon?",
        "Neil Armstrong",
        ["Yuri Gagarin", "Buzz Lightyear", "Albert Einstein"],
    ),
    (
        "Who was the first President of the United States?",
        "George Washington",
        ["Abraham Lincoln", "Thomas Jefferson", "John Kennedy"],
    ),
    (
        "Which scientist proposed the theory of relativity?",
        "Albert Einstein",
        ["Isaac Newton", "Charles Darwin", "Galileo Galilei"],
    ),
    ("What is the main ingredient in bread?", "flour", ["sugar", "salt", "butter"]),
    ("Which drink is made from coffee beans?", "coffee", ["tea", "milk", "orange juice"]),
    ("What is a piano?", "a musical instrument", ["a vegetable", "a vehicle", "an animal"]),
    ("What is a bicycle?", "a vehicle", ["a fruit", "a musical instrument", "a building"]),
    (
        "Which sport uses a bat and a ball and is popular in England and India?",
        "cricket",
        ["swimming", "skiing", "boxing"],
    ),
    ("In which sport do players try to put a ball through a hoop?", "basketball", ["golf", "tennis", "rowing"]),
]

# Few-shot pool for the generative task (never scored).
GEN_FEWSHOT: list[tuple[str, list[str]]] = [
    ("What is the capital of Portugal?", ["Lisbon"]),
    ("How many legs does a cat have?", ["four", "4"]),
    ("What color is a ripe tomato?", ["red"]),
    ("Which animal is known for saying 'quack'?", ["a duck", "duck"]),
    ("What is 1 plus 1?", ["two", "2"]),
]

# (question, accepted answers). The first is the canonical answer; all are checked after normalisation.
GEN: list[tuple[str, list[str]]] = [
    ("What is the capital of France?", ["Paris"]),
    ("What is the capital of Japan?", ["Tokyo"]),
    ("What is the capital of Italy?", ["Rome"]),
    ("What is the capital of Germany?", ["Berlin"]),
    ("What is the capital of Spain?", ["Madrid"]),
    ("What is the capital of England?", ["London"]),
    ("What is the capital of Russia?", ["Moscow"]),
    ("What is the capital of Egypt?", ["Cairo"]),
    ("What is the capital of China?", ["Beijing", "Peking"]),
    ("What is the capital of Greece?", ["Athens"]),
    ("What is the capital of Ireland?", ["Dublin"]),
    ("What is the capital of Austria?", ["Vienna"]),
    ("What is the capital of Norway?", ["Oslo"]),
    ("What is the capital of Sweden?", ["Stockholm"]),
    ("What is the capital of Poland?", ["Warsaw"]),
    ("What is the capital of the Netherlands?", ["Amsterdam"]),
    ("What is the capital of Belgium?", ["Brussels"]),
    ("What is the capital of South Korea?", ["Seoul"]),
    ("What is the capital of Thailand?", ["Bangkok"]),
    ("What is the capital of Kenya?", ["Nairobi"]),
    ("What is the capital of Argentina?", ["Buenos Aires"]),
    ("What is the capital of Peru?", ["Lima"]),
    ("What is the capital of Cuba?", ["Havana"]),
    ("What is the capital of Denmark?", ["Copenhagen"]),
    ("What is the capital of Finland?", ["Helsinki"]),
    ("What is the capital of Hungary?", ["Budapest"]),
    ("What is the capital of Turkey?", ["Ankara"]),
    ("What is the capital of India?", ["New Delhi", "Delhi"]),
    ("Which planet is known as the Red Planet?", ["Mars"]),
    ("Which is the largest planet in our solar system?", ["Jupiter"]),
    ("Which planet is closest to the Sun?", ["Mercury"]),
    ("What is the chemical symbol for gold?", ["Au"]),
    ("What is the chemical formula of water?", ["H2O"]),
    ("What gas do humans breathe in to stay alive?", ["oxygen"]),
    ("What is frozen water called?", ["ice"]),
    ("What is the largest ocean on Earth?", ["Pacific", "the Pacific Ocean", "Pacific Ocean"]),
    ("What is the highest mountain in the world?", ["Mount Everest", "Everest"]),
    ("What is the longest river in Africa?", ["Nile", "the Nile", "Nile River", "the Nile River"]),
    ("Which organ pumps blood through the body?", ["heart", "the heart"]),
    ("What do bees make?", ["honey"]),
    ("How many legs does a spider have?", ["eight", "8"]),
    ("How many legs does an insect have?", ["six", "6"]),
    ("How many days are in a week?", ["seven", "7"]),
    ("How many months are in a year?", ["twelve", "12"]),
    ("How many hours are in a day?", ["24", "twenty-four", "twenty four"]),
    ("How many minutes are in an hour?", ["60", "sixty"]),
    ("How many sides does a triangle have?", ["three", "3"]),
    ("How many sides does a square have?", ["four", "4"]),
    ("How many continents are there on Earth?", ["seven", "7"]),
    ("What is 2 plus 3?", ["5", "five"]),
    ("What is 4 plus 4?", ["8", "eight"]),
    ("What is 10 minus 3?", ["7", "seven"]),
    ("What is 6 times 2?", ["12", "twelve"]),
    ("What is 9 plus 1?", ["10", "ten"]),
    ("What color is the sky on a clear day?", ["blue"]),
    ("What color is grass?", ["green"]),
    ("What color is snow?", ["white"]),
    ("What color are ripe bananas?", ["yellow"]),
    ("What color do you get by mixing blue and yellow?", ["green"]),
    ("What is the opposite of hot?", ["cold"]),
    ("What is the opposite of up?", ["down"]),
    ("What is the opposite of day?", ["night"]),
    ("What is the opposite of big?", ["small", "little"]),
    ("What is the opposite of left?", ["right"]),
    ("What is the plural of 'mouse'?", ["mice"]),
    ("What is the plural of 'child'?", ["children"]),
    ("What is a baby cat called?", ["kitten", "a kitten"]),
    ("What is a baby dog called?", ["puppy", "a puppy", "pup"]),
    ("What animal is known as the king of the jungle?", ["lion", "the lion"]),
    ("What is the tallest animal in the world?", ["giraffe", "the giraffe"]),
    ("What is the largest animal on Earth?", ["blue whale", "the blue whale"]),
    ("Which animal has a long trunk?", ["elephant", "an elephant", "the elephant"]),
    ("Which bird cannot fly and lives in Antarctica?", ["penguin", "the penguin", "penguins"]),
    ("What do caterpillars turn into?", ["butterflies", "butterfly", "a butterfly", "moths", "butterflies or moths"]),
    ("Who wrote 'Romeo and Juliet'?", ["William Shakespeare", "Shakespeare"]),
    ("Who painted the Mona Lisa?", ["Leonardo da Vinci", "da Vinci", "Leonardo"]),
    ("Who was the first President of the United States?", ["George Washington", "Washington"]),
    ("Who was the first person to walk on the Moon?", ["Neil Armstrong", "Armstrong"]),
    ("Who developed the theory of relativity?", ["Albert Einstein", "Einstein"]),
    ("What language is mainly spoken in Brazil?", ["Portuguese"]),
    ("What language is mainly spoken in Mexico?", ["Spanish"]),
    ("What is the currency of Japan?", ["yen", "the yen", "Japanese yen"]),
    ("In which country are the pyramids of Giza?", ["Egypt"]),
    ("In which country is the Eiffel Tower?", ["France"]),
    ("What is the first month of the year?", ["January"]),
    ("Which month comes after March?", ["April"]),
    ("Which day comes after Monday?", ["Tuesday"]),
    ("What is the main ingredient of bread?", ["flour", "wheat flour", "wheat"]),
]


def _dupes(qs: list[str]) -> list[str]:
    seen, out = set(), []
    for q in qs:
        if q in seen:
            out.append(q)
        seen.add(q)
    return out


def write_mc(path: Path) -> int:
    assert not _dupes([q for q, _, _ in MC]), _dupes([q for q, _, _ in MC])
    rng = random.Random(20250101)
    rows = []
    for i, (q, right, wrong) in enumerate(MC):
        assert len(wrong) == 3 and right not in wrong, q
        opts = list(wrong)
        rng.shuffle(opts)
        pos = i % 4  # balanced positions: exactly a quarter of the answers at each letter (+-1)
        opts.insert(pos, right)
        rows.append({"id": f"mc{i:03d}", "question": q, "choices": opts, "answer": pos})
    # shuffle row order so position does not correlate with topic
    rng.shuffle(rows)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)


def write_gen(path: Path, fewshot_path: Path) -> tuple[int, int]:
    assert not _dupes([q for q, _ in GEN])
    assert not set(q for q, _ in GEN) & set(q for q, _ in GEN_FEWSHOT)
    rows = [{"id": f"gen{i:03d}", "question": q, "answers": a} for i, (q, a) in enumerate(GEN)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    fs = [{"id": f"genfs{i:02d}", "question": q, "answers": a} for i, (q, a) in enumerate(GEN_FEWSHOT)]
    fewshot_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fs))
    return len(rows), len(fs)


if __name__ == "__main__":
    d = TASKS / "conductor_facts"
    d.mkdir(parents=True, exist_ok=True)
    n_mc = write_mc(d / "facts_mc_test.jsonl")
    n_gen, n_fs = write_gen(d / "facts_gen_test.jsonl", d / "facts_gen_fewshot.jsonl")
    print(f"conductor_facts_mc: {n_mc} questions; conductor_facts_gen: {n_gen} questions (+{n_fs} few-shot)")
