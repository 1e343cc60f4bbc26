"""Writes orders-train.jsonl and orders-eval.jsonl: short customer messages, each with the order
extracted into one fixed JSON shape. Written for Bakeoff's tune example; seeded, so the files are
reproducible: python -m bakeoff.tune.examples.generate
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SYSTEM = ('Extract the order from the message. Reply with JSON only, exactly in this shape: '
          '{"name": ..., "item": ..., "quantity": ..., "city": ...}')
FIRST = ["Maria", "Tom", "Aisha", "Kenji", "Lena", "Omar", "Sofia", "Ravi", "Chloe", "Diego", "Ingrid",
         "Kwame", "Yuki", "Pavel", "Nora", "Mateo", "Zara", "Felix", "Hana", "Ibrahim", "Clara", "Leo",
         "Amara", "Jonas", "Priya", "Samuel", "Elif", "Marco", "Tessa", "Wei"]
LAST = ["Lopez", "Becker", "Khan", "Sato", "Novak", "Haddad", "Rossi", "Patel", "Martin", "Silva",
        "Berg", "Mensah", "Tanaka", "Ivanov", "Quinn", "Garcia", "Ali", "Weber", "Kim", "Yilmaz",
        "Dubois", "Costa", "Okafor", "Larsen", "Nair", "Brooks", "Demir", "Conti", "Visser", "Chen"]
ITEMS = ["mug", "lamp", "backpack", "notebook", "umbrella", "kettle", "scarf", "chair", "candle",
         "teapot", "blanket", "bike helmet", "desk fan", "water bottle", "pillow", "clock", "vase",
         "toaster", "rug", "mirror"]
CITIES = ["Lyon", "Porto", "Osaka", "Nairobi", "Austin", "Krakow", "Leeds", "Turin", "Oslo", "Pune",
          "Quito", "Ghent", "Perth", "Izmir", "Bergen", "Accra", "Malmo", "Seville", "Dublin", "Hanoi"]
WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
TEMPLATES = [
    "Hi, this is {name}. Please send {qty} {items} to {city}.",
    "Hello! {name} here - I'd like to order {qty} {items}, delivered to {city}.",
    "Order from {name}: {qty} x {item}, ship to {city}, thanks.",
    "Could you deliver {qty} {items} to my address in {city}? Regards, {name}",
    "{name} from {city} wants {qty} {items}.",
    "Good morning, I need {qty} {items} sent to {city} as soon as possible. - {name}",
    "Ship {qty} {items} to {city} please. Name on the order: {name}.",
    "Hey, {name} again. This time {qty} {items} for our office in {city}.",
]


def plural(item: str, n: int) -> str:
    return item if n == 1 else item + "s"


def example(rng: random.Random) -> dict:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    item, city = rng.choice(ITEMS), rng.choice(CITIES)
    qty = rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 12])
    said = WORDS[qty] if qty in WORDS and rng.random() < 0.3 else str(qty)
    text = rng.choice(TEMPLATES).format(name=name, qty=said, items=plural(item, qty), item=item, city=city)
    answer = json.dumps({"name": name, "item": item, "quantity": qty, "city": city})
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                         {"role": "assistant", "content": answer}]}


def main(folder: Path = Path(__file__).parent, n_train: int = 240, n_eval: int = 80, seed: int = 7) -> None:
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict] = []
    while len(rows) < n_train + n_eval:
        row = example(rng)
        key = row["messages"][1]["content"].casefold()
        if key not in seen:          # no prompt twice: the held-out set must not leak
            seen.add(key)
            rows.append(row)
    for name, part in (("orders-train.jsonl", rows[:n_train]), ("orders-eval.jsonl", rows[n_train:])):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in part))


if __name__ == "__main__":
    main()
