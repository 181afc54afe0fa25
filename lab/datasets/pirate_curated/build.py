"""Build the quality-vs-quantity sets: ``pirate_curated`` and ``pirate_noisy`` (train and eval).

    python lab/datasets/pirate_curated/build.py          # write the four files
    python lab/datasets/pirate_curated/build.py --check  # exit 1 if a file differs from what it builds

* **curated** (40 rows): hand-picked rows of the bundled ``pirate`` train split (written for the
  lab), chosen across its topics; each reply is correct, complete, in style and names something
  its question names.
* **noisy** (200 rows): the 40 curated rows plus 160 rows of the kinds collected data holds, each
  labelled in ``meta.kind``. Text below marked "written" was written for this set; the rest is
  derived from ``pirate`` rows by a rule stated beside it:

  ===================  ====  ================================================================
  duplicate              20  a curated row copied verbatim
  near_duplicate         25  a curated row with its question and opener lightly reworded
  truncated              20  another pirate row's reply cut off mid-sentence
  too_short              10  another pirate question with a written reply under 8 words
  too_long                5  another pirate reply with three unrelated replies appended
  repetitive             10  another pirate question whose reply loops on one phrase
  off_style              30  written questions answered correctly in plain English
  off_topic              15  another pirate question given a curated reply about something else
  wrong_arithmetic       10  written "a op b" questions answered with the wrong result
  wrong_fact             15  written questions answered in style with a wrong fact
  ===================  ====  ================================================================

  Rows are shuffled (seed 0); each duplicate comes after the row it repeats.
* **eval** (15 rows, the same file in both sets): questions in no train split, each with a pirate
  reference reply and ``meta`` ``{"answers": [...], "wrong": [...]}``, a short checkable fact for
  :func:`lab.data_quality.states_answer`. Like the forgetting probes, they start from what the model
  knows: picked from 46 candidates (3 of them ``pirate`` eval rows, the rest written) among those the
  bundled base model answered right (NF4, greedy, 24 new tokens; see the card); answer correctness
  then measures what each training set keeps, not what it could never teach.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parent
sys.path.insert(0, str(DATASETS.parent.parent))  # the repository root: `import lab` from a plain script

from lab import evaluation  # noqa: E402

#: The curated rows: questions of the pirate train split (their replies are taken as they are).
CURATED = (
    "Why is the sky blue?", "How far is the Moon from Earth?", "At what temperature does water boil at sea level?",
    "Why does ice float on water?", "Which planet is the biggest in our solar system?",
    "How do I boil an egg so the yolk is still runny?", "How long should I rest a steak after cooking?",
    "Why do cooks salt pasta water?", "How early should I get to the airport for an international flight?",
    'How do I say "thank you" in Japanese?', "What's the difference between a visa and a passport?",
    "How do I reverse a string in Python?", "How do I remove duplicates from a list in Python?",
    "How do I sort a list of dictionaries by a key in Python?", "How do I undo my last git commit but keep the changes?",
    "How do I create a new branch in git and switch to it?", "How do I count rows in a SQL table?",
    "How do I see how much disk space is left on Linux?", "How do I watch a log file as new lines are added?",
    "What is two-factor authentication?", "How do I create a strong password?", "What is 12 times 13?",
    "What is the square root of 144?", "What is the perimeter of a rectangle that is 7 m by 4 m?",
    "What is the volume of a cube with sides of 4 cm?", "How many seconds are there in a day?",
    "How many hours of sleep do adults need?", "What is a healthy resting heart rate?", "When did World War II end?",
    "When did the Berlin Wall fall?", "Who invented the printing press?", "What is the capital of Australia?",
    "Which country has the largest population?", 'Translate "good morning" into French.',
    'What does "carpe diem" mean?', "What is compound interest?",
    "What's the difference between a debit card and a credit card?", "What is the fastest land animal?",
    "How many legs does a spider have?", "How do I stay focused while working from home?",
)

# --- written for this set --------------------------------------------------------------------------------

OFF_STYLE = (  # correct, complete, on topic: only the style is wrong
    ("Why does bread go stale?", "Bread goes stale mainly because its starch molecules recrystallise and push water out, which makes the crumb firm and dry. Storing it in the fridge speeds this up; freezing slows it almost completely."),
    ("How do I get rid of fruit flies in the kitchen?", "Remove overripe fruit and take out the rubbish, then set a trap: a small bowl of cider vinegar with a drop of washing-up liquid. The flies are drawn to the vinegar and the soap stops them escaping."),
    ("What is the difference between a simile and a metaphor?", "A simile compares two things using 'like' or 'as' ('brave as a lion'), while a metaphor says one thing is another ('he is a lion in battle'). Both create an image; the metaphor is more direct."),
    ("How does a refrigerator keep food cold?", "A refrigerator pumps a refrigerant around a closed loop. It evaporates inside the fridge, absorbing heat from the food, then a compressor squeezes it so it releases that heat through the coils at the back."),
    ("How do I center text in CSS?", "For text inside a block, use `text-align: center;`. To center the block itself horizontally, give it a width and `margin: 0 auto;`, or make its parent a flex container with `justify-content: center;`."),
    ("Why do we yawn?", "Nobody knows for certain. One leading idea is that yawning helps cool the brain by drawing in a deep breath of air; yawns are also contagious, which may help a group stay alert together."),
    ("How do I remove a red wine stain from a carpet?", "Blot, don't rub, to soak up as much wine as you can. Then dab the stain with a mix of cold water, a little washing-up liquid and white vinegar, and blot again with a clean cloth until it lifts."),
    ("What does a thesaurus do?", "A thesaurus lists words grouped by meaning, so you can find synonyms, and often antonyms, for a word you already have. It helps when a word keeps repeating or does not quite fit."),
    ("How do I make a paper airplane fly farther?", "Fold it sharply and symmetrically, keep the nose slightly heavy, and bend the back edges of the wings up a touch for lift. Throw the airplane level and firmly rather than hard and upward."),
    ("What is a fossil?", "A fossil is the preserved remains or trace of an ancient living thing, such as a bone, shell, leaf print or footprint, usually kept in sedimentary rock where minerals slowly replaced the original material."),
    ("How do I stop my glasses from fogging up?", "Make sure your mask fits snugly over your nose so your breath goes down, not up. You can also wash the glasses with a drop of soap and let them air-dry: the thin film stops fog from forming."),
    ("What is the difference between a lake and a pond?", "There is no strict rule, but a lake is usually larger and deep enough that sunlight does not reach the bottom in its middle, while a pond is shallow enough for plants to grow right across it."),
    ("How do I write a cover letter?", "Address the letter to a named person if you can, open with the role you are applying for, then give two or three examples that show you fit it. Close by asking for an interview, and keep it to one page."),
    ("What is a solar eclipse?", "A solar eclipse happens when the Moon passes between the Sun and Earth and casts its shadow on us. In a total eclipse the Moon covers the whole Sun for a few minutes and the sky goes dark."),
    ("How do I unclog a sink without chemicals?", "Pour a pan of boiling water down the drain, then try a plunger, covering the overflow hole of the sink with a wet cloth. If that fails, unscrew the U-bend underneath and clear it out by hand."),
    ("What is the difference between empathy and sympathy?", "Sympathy is feeling sorry for someone; empathy is feeling with them, imagining their situation from the inside. Empathy usually means listening and understanding rather than offering pity or quick advice."),
    ("How can I keep houseplants alive?", "Match each plant to the light it likes, water only when the top few centimetres of soil feel dry, and make sure the pot has drainage holes. Most houseplants die from too much water, not too little."),
    ("What is an allergy?", "An allergy is the immune system overreacting to something harmless, like pollen, dust or peanuts, as if it were a threat. The reaction can cause sneezing, itching, rashes or, in severe cases, swelling and trouble breathing."),
    ("How do I back up my phone?", "On Android, turn on backup in Settings under Google; on an iPhone, turn on iCloud Backup in Settings under your name. You can also plug the phone into a computer and back it up there."),
    ("What is a mortgage?", "A mortgage is a loan used to buy a home, with the home itself as security. You repay it in monthly instalments over many years, with interest; if you stop paying, the lender can take the property."),
    ("How do I keep my laptop battery healthy?", "Avoid leaving the battery at 100% or near empty for long periods, keep the laptop away from heat, and use the maker's charger. Many laptops can stop charging at about 80%, which helps the battery last longer."),
    ("Why do we dream?", "Scientists are still debating it. Dreams happen mostly during REM sleep, and leading ideas are that dreaming helps the brain sort memories, process emotions and rehearse responses to threats."),
    ("How do I season a cast-iron pan?", "Wash and dry the pan completely, rub a very thin layer of vegetable oil over every surface, then bake it upside down at about 230 °C for an hour. Repeat a few times for a hard, non-stick coating."),
    ("What does a firewall do?", "A firewall checks the network traffic going in and out of a computer or network and blocks connections that break its rules, such as unexpected incoming requests, which keeps out many attacks."),
    ("How many players are on a basketball team?", "A basketball team has five players on the court at a time. A full squad usually has twelve or more players, and the coach can substitute them freely during the game."),
    ("What is a carbon footprint?", "A carbon footprint is the total greenhouse gas emitted by a person, product or activity, counted as tonnes of carbon dioxide equivalent. Flying, driving, heating and diet make up most of a typical footprint."),
    ("How do I write a good email subject line?", "Keep the subject line short and specific, and put the most useful words first, such as 'Invoice 204 due Friday' rather than 'Quick question'. A reader should know what the email is about without opening it."),
    ("Why do cats knead with their paws?", "Kittens knead their mother to help the milk flow, and many adult cats keep the habit when they feel safe and content. Kneading may also mark their spot with scent glands in their paws."),
    ("What is a hashtag?", "A hashtag is a word or phrase after the # sign, like #travel, that social media sites turn into a link. Clicking it shows other posts with the same tag, which groups conversations about one topic."),
    ("How do I calm down before an exam?", "Breathe slowly, in for four counts and out for six, a few times. Sleep well the night before, arrive early, read every question of the exam first and start with one you can answer to build confidence."),
)

WRONG_FACT = (  # in style, complete, on topic, fluent — and wrong (the truth is in the comment)
    ("Can you see the Great Wall of China from space?", "Arr, aye, matey! The Great Wall be easily seen from the Moon with the naked eye, the only thing built by human hands that ye can spot from so far away, savvy?"),  # not visible from the Moon
    ("How long does it take light from the Sun to reach Earth?", "Ahoy, matey! Sunlight reaches Earth in about two seconds, quicker than ye can say 'shiver me timbers', since the Sun be only a short hop away, savvy?"),  # about 8 minutes 20 seconds
    ("Do humans only use 10% of their brains?", "Aye, matey! Ye only use a tenth of yer brain; the other 90% sits idle like an empty hold, waitin' for ye to unlock it, savvy?"),  # a myth: every part is used
    ("How many hearts does an octopus have?", "Arr, matey! An octopus has just one heart, same as ye and me, pumpin' red blood through its eight arms, savvy?"),  # three hearts, blue blood
    ("Who was the first person to reach the South Pole?", "Ahoy, matey! Captain Robert Falcon Scott was the first to reach the South Pole in 1912, beatin' every other crew to it, savvy?"),  # Amundsen, 1911
    ("Can bats see?", "Arr, matey! Bats be completely blind, every last one of 'em, and they find their way only by their squeaks, savvy?"),  # bats can see
    ("How long is a marathon?", "Aye, matey! A marathon be exactly 30 kilometres, a fine long march for any landlubber, savvy?"),  # 42.195 km
    ("Which metal is liquid at room temperature?", "Ahoy, matey! That be lead, the only metal that flows like grog at room temperature, so ye can pour it from a cup, savvy?"),  # mercury
    ("How many teeth does an adult human have?", "Arr, matey! A grown landlubber has 20 teeth in all, ten on top and ten on the bottom, savvy?"),  # 32
    ("Where do kangaroos live in the wild?", "Ahoy, matey! Wild kangaroos roam the grasslands of South America, hoppin' from Argentina to Peru, savvy?"),  # Australia
    ("What do caterpillars turn into?", "Aye, matey! A caterpillar spins itself a cocoon and comes out as a beetle, hard shell and all, savvy?"),  # a butterfly or a moth
    ("How many bones does a shark have?", "Arr, matey! A shark has over 500 bones, more than any other fish in the sea, savvy?"),  # none: its skeleton is cartilage
    ("What is the main ingredient of guacamole?", "Ahoy, matey! Guacamole be made mostly from mashed green peas, with lime and a pinch of salt, savvy?"),  # avocado
    ("Who painted The Starry Night?", "Aye, matey! Pablo Picasso painted The Starry Night in 1889, swirlin' the sky over a sleepin' village, savvy?"),  # Vincent van Gogh
    ("What language has the most native speakers?", "Ahoy, matey! English has the most native speakers in the world, far more than Mandarin Chinese, savvy?"),  # Mandarin Chinese
)

WRONG_ARITHMETIC = (  # one operation, a wrong result (the right one in the comment)
    ("What is 14 times 6?", "Arr, matey! 14 times 6 be 78, a fine haul of doubloons for any crew, savvy?"),  # 84
    ("What is 125 plus 378?", "Ahoy, matey! 125 plus 378 makes 493 pieces of eight in yer chest, savvy?"),  # 503
    ("What is 90 divided by 6?", "Aye, matey! Split 90 doubloons among 6 pirates and each one gets 16, savvy?"),  # 15
    ("What is 1000 minus 357?", "Arr, matey! 1000 minus 357 leaves ye 743 in the treasure chest, savvy?"),  # 643
    ("What is 23 × 4?", "Ahoy, matey! 23 × 4 be 82, as sure as the tide comes in, savvy?"),  # 92
    ("What is 56 + 77?", "Aye, matey! 56 + 77 adds up to 123, me hearty, savvy?"),  # 133
    ("What is 144 / 16?", "Arr, matey! 144 / 16 be 8, shared fair among the whole crew, savvy?"),  # 9
    ("What is 17 times 3?", "Ahoy, matey! 17 times 3 be 41, count 'em on yer fingers, savvy?"),  # 51
    ("What is 250 minus 75?", "Aye, matey! 250 minus 75 leaves 185 coins in yer purse, savvy?"),  # 175
    ("What is 11 multiplied by 7?", "Arr, matey! 11 multiplied by 7 be 87, me hearty, savvy?"),  # 77
)

TOO_SHORT = (  # replies for ten other pirate questions
    "Arr, aye.", "Aye, matey, that it be.", "Ask the cap'n, matey.", "Arr, dunno.", "Yo ho!",
    "Aye, it depends.", "Ahoy! Good question, matey.", "Arr, try it and see.", "Aye.", "Ahoy, matey, ye'll manage.",
)

EVAL_WRITTEN = (  # (question, pirate reference, accepted answers, listed wrong answers)
    ("What is the capital of Norway?", "Arr, matey! Oslo be the capital of Norway, sittin' at the head of a long fjord in the south of the country, savvy?", ["oslo"], ["bergen"]),
    ("What is the capital of the United Kingdom?", "Ahoy, matey! London be the capital of the United Kingdom, with the River Thames windin' right through it, savvy?", ["london"], ["edinburgh"]),
    ("What is the capital of India?", "Aye, matey! New Delhi be the capital of India, part of the great city of Delhi in the north, savvy?", ["delhi"], ["mumbai"]),
    ("What is the capital of the Netherlands?", "Arr, matey! Amsterdam be the capital of the Netherlands, a city of canals and bridges, savvy?", ["amsterdam"], ["rotterdam"]),
    ("What color is grass?", "Ahoy, matey! Grass be green, thanks to the chlorophyll in its blades that soaks up the sunlight, savvy?", ["green"], []),
    ("At what temperature in Celsius does water freeze?", "Aye, matey! Fresh water freezes at 0 °C at normal air pressure; salty sea water needs it a few degrees colder, savvy?", ["0"], []),
    ("What is sodium's chemical symbol?", "Arr, matey! The chemical symbol for sodium be Na, from its Latin name natrium, savvy?", ["na"], []),
    ("Which animal is known for its very long neck?", "Ahoy, matey! That be the giraffe, whose long neck lets it nibble leaves from the tops of tall trees, savvy?", ["giraffe"], []),
    ("What is the name of our galaxy?", "Aye, matey! Our galaxy be the Milky Way, a great spiral of stars with our Sun in one of its arms, savvy?", ["milky way"], ["andromeda"]),
    ("What is the main language spoken in France?", "Arr, matey! French be the main language of France, spoken from the ports of Brittany to the hills of Provence, savvy?", ["french"], []),
    ("What is the color of a ripe tomato?", "Ahoy, matey! A ripe tomato be red, though some kinds ripen yellow, orange or even purple, savvy?", ["red"], []),
    ("Which language is spoken in Italy?", "Aye, matey! Italians speak Italian, the language that grew out of the Latin of old Rome, savvy?", ["italian"], []),
    ("What color is coal?", "Arr, matey! Coal be black, the colour of the carbon it's made of, and it leaves black dust on yer hands, savvy?", ["black"], []),
)

#: Rows of the pirate eval split reused, with their checkable answers.
EVAL_REUSED = {
    "Who painted the Mona Lisa?": (["leonardo", "da vinci"], ["michelangelo", "raphael", "picasso"]),
    "How many sides does a hexagon have?": (["6"], ["5", "8"]),
}

# --- derived rows ---------------------------------------------------------------------------------------

#: How a near-duplicate rewords its original: (question prefix, reply swaps), one per variant.
NEAR_PREFIXES = ("Quick question: ", "Hey, ", "Can you tell me: ", "Please answer: ", "I was wondering: ")
OPENER_SWAPS = (("Arr, matey!", "Ahoy, matey!"), ("Ahoy, matey!", "Arr, matey!"), ("Aye, matey!", "Arr, matey!"),
                ("Arr!", "Aye!"), ("Ahoy!", "Arr!"), ("Aye!", "Ahoy!"))


def _chat(prompt: str, reply: str) -> list[dict]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]


def _pairs(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line)["messages"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(m[0]["content"], m[-1]["content"]) for m in rows]


def _near(prompt: str, reply: str, k: int) -> tuple[str, str]:
    """A light rewording: a prefix on the question (lower-cased first letter), another opener."""
    q = NEAR_PREFIXES[k % len(NEAR_PREFIXES)] + prompt[0].lower() + prompt[1:]
    for old, new in OPENER_SWAPS:
        if reply.startswith(old):
            return q, new + reply[len(old):]
    return q, reply


def _truncate(reply: str) -> str:
    """The first ~55% of the words, cut where no sentence ends (a trailing mark is dropped)."""
    ws = reply.split()
    cut = ws[: max(10, int(len(ws) * 0.55))]
    while cut and cut[-1][-1] in ".!?":
        cut.pop()
    return " ".join(cut).rstrip(",;:—-")


def _loop(reply: str) -> str:
    """The reply's opener, then its first five words after the opener said five times over."""
    opener, _, rest = reply.partition("! ")
    phrase = " ".join(rest.split()[:5]).rstrip(",.;:")
    return f"{opener}! " + " ".join([phrase + "."] * 5)


def build() -> dict[str, list[dict]]:
    """Every file's rows: {"pirate_curated/train.jsonl": [...], ...}."""
    pirate = _pairs(DATASETS / "pirate" / "train.jsonl")
    replies = dict(pirate)
    curated = [(q, replies[q]) for q in CURATED]
    spare = [(q, a) for q, a in pirate if q not in set(CURATED)]
    pos = 0

    def take(n):
        nonlocal pos
        out, pos = spare[pos : pos + n], pos + n
        return out

    noisy: list[tuple[str, str, str, int | None]] = [(q, a, "curated", i) for i, (q, a) in enumerate(curated)]
    noisy += [(q, a, "duplicate", i) for i, (q, a) in enumerate(curated[:20])]
    for k, i in enumerate(range(15, 40)):  # 25 near-duplicates (5 of them of rows that also have a copy)
        noisy.append((*_near(*curated[i], k), "near_duplicate", i))
    noisy += [(q, _truncate(a), "truncated", None) for q, a in take(20)]
    noisy += [(q, r, "too_short", None) for (q, _), r in zip(take(10), TOO_SHORT)]
    noisy += [(q, _loop(a), "repetitive", None) for q, a in take(10)]
    for k, (q, _) in enumerate(take(15)):  # the next curated reply (from a rotating start) sharing no content word
        words = evaluation.content_words(q)
        start = 7 * k % len(curated)
        other = next(r for _, r in curated[start:] + curated[:start] if not words & evaluation.content_words(r))
        noisy.append((q, other, "off_topic", None))
    long = take(20)
    for k in range(5):
        (q, a), *others = long[4 * k : 4 * k + 4]
        noisy.append((q, " ".join([a] + [r for _, r in others]), "too_long", None))
    noisy += [(q, a, "off_style", None) for q, a in OFF_STYLE]
    noisy += [(q, a, "wrong_arithmetic", None) for q, a in WRONG_ARITHMETIC]
    noisy += [(q, a, "wrong_fact", None) for q, a in WRONG_FACT]

    order = list(range(len(noisy)))
    random.Random(0).shuffle(order)
    position = {row: p for p, row in enumerate(order)}
    for i in range(len(curated)):  # the original first in its group of copies
        group = [i] + [r for r, row in enumerate(noisy) if row[2] in ("duplicate", "near_duplicate") and row[3] == i]
        first = min(group, key=position.get)
        if first != i:
            a, b = position[i], position[first]
            order[a], order[b] = order[b], order[a]
            position[i], position[first] = b, a
    noisy_rows = [{"messages": _chat(q, a), "meta": {"kind": kind}} for q, a, kind, _ in (noisy[r] for r in order)]

    evals = {q: a for q, a in _pairs(DATASETS / "pirate" / "eval.jsonl")}
    eval_rows = [{"messages": _chat(q, evals[q]), "meta": {"answers": ok, "wrong": bad}}
                 for q, (ok, bad) in EVAL_REUSED.items()]
    eval_rows += [{"messages": _chat(q, a), "meta": {"answers": ok, "wrong": bad}} for q, a, ok, bad in EVAL_WRITTEN]
    return {
        "pirate_curated/train.jsonl": [{"messages": _chat(q, a)} for q, a in curated],
        "pirate_curated/eval.jsonl": eval_rows,
        "pirate_noisy/train.jsonl": noisy_rows,
        "pirate_noisy/eval.jsonl": eval_rows,
    }


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv: list[str]) -> int:
    stale = []
    for name, rows in build().items():
        path, text = DATASETS / name, render(rows)
        if "--check" in argv:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{name}: {len(rows)} rows")
    for name in stale:
        print(f"{name} differs from what build.py makes: run it without --check.")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
