"""A small generated NLI set with real linguistic structure.

Three families of templates, each producing all three labels, so neither the
family nor any single hypothesis word gives the label away
(`test_nli_data.py::test_synthetic_set_hides_the_label` checks that):

* lexical: hypernyms (a dog is an animal, not the converse), paraphrased verbs
  and place adverbials, extra detail that is neutral, a different place that
  contradicts;
* negation: "not" on the hypothesis or on both sides (negating a hypernym
  entails negating the specific word, not the converse);
* quantifiers: all / some / none / not all with paraphrased and antonym
  predicates.

Labels: 0 entailment, 1 neutral, 2 contradiction.
"""

import random

LABELS = ("entailment", "neutral", "contradiction")
ENTAILMENT, NEUTRAL, CONTRADICTION = range(3)

PEOPLE = [
    "the woman",
    "a man",
    "the boy",
    "an old farmer",
    "the teacher",
    "my sister",
    "a young girl",
    "the doctor",
    "a tall student",
    "the chef",
    "his uncle",
    "the pilot",
]
HYPERNYMS = {
    "dog": "animal",
    "cat": "animal",
    "horse": "animal",
    "rabbit": "animal",
    "rose": "flower",
    "tulip": "flower",
    "daisy": "flower",
    "guitar": "instrument",
    "violin": "instrument",
    "drum": "instrument",
    "apple": "fruit",
    "banana": "fruit",
    "pear": "fruit",
    "hammer": "tool",
    "wrench": "tool",
    "shovel": "tool",
}
# verb -> paraphrase
ACTS = {
    "holding": "gripping",
    "looking at": "watching",
    "drawing": "sketching",
    "photographing": "taking a picture of",
    "carrying": "lifting up",
}
PLACES = ["park", "kitchen", "garden", "garage", "market", "classroom", "station", "library"]
GROUPS = [
    "children",
    "players",
    "workers",
    "students",
    "tourists",
    "dancers",
    "musicians",
    "soldiers",
    "nurses",
    "farmers",
]
# predicate, paraphrase, antonym
STATES = [
    ("smiling", "grinning", "frowning"),
    ("asleep", "sleeping", "awake"),
    ("outside", "outdoors", "inside"),
    ("happy", "cheerful", "sad"),
    ("sitting down", "seated", "standing up"),
    ("silent", "quiet", "shouting"),
]


def _a(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def _cap(text):
    return text[0].upper() + text[1:] + "."


def _lexical(rng, label):
    person, place = rng.choice(PEOPLE), rng.choice(PLACES)
    thing = rng.choice(sorted(HYPERNYMS))
    hyper = HYPERNYMS[thing]
    act = rng.choice(sorted(ACTS))
    act2 = rng.choice([act, ACTS[act]])
    variant = rng.randrange(2)
    if label == ENTAILMENT:
        premise = f"{person} is {act} {_a(thing)} in the {place}"
        hypothesis = (
            f"{person} is {act2} {_a(hyper)}"
            if variant
            else f"in the {place}, {person} is {act2} {_a(thing)}"
        )
    elif label == NEUTRAL:
        if variant:
            premise = f"{person} is {act} {_a(hyper)} in the {place}"
            hypothesis = f"{person} is {act2} {_a(thing)}"
        else:
            premise = f"{person} is {act} {_a(thing)}"
            hypothesis = f"{person} is {act2} {_a(thing)} in the {place}"
    else:
        if variant:
            other = rng.choice([p for p in PLACES if p != place])
            premise = f"{person} is {act} {_a(thing)} in the {place}"
            hypothesis = f"{person} is {act2} {_a(thing)} in the {other}"
        else:
            premise = f"{person} is {act} {_a(thing)} in the {place}"
            hypothesis = f"{person} is not {act2} any {hyper}"
    return premise, hypothesis


def _negation(rng, label):
    person = rng.choice(PEOPLE)
    thing = rng.choice(sorted(HYPERNYMS))
    hyper = HYPERNYMS[thing]
    act = rng.choice(sorted(ACTS))
    act2 = rng.choice([act, ACTS[act]])
    variant = rng.randrange(2)
    if label == ENTAILMENT:
        premise = f"{person} is not {act} any {hyper}"
        hypothesis = f"{person} is not {act2} {_a(thing)}"
    elif label == NEUTRAL:
        if variant:
            premise = f"{person} is not {act} {_a(thing)}"
            hypothesis = f"{person} is not {act2} any {hyper}"
        else:
            sibling = rng.choice([t for t, h in HYPERNYMS.items() if h == hyper and t != thing])
            premise = f"{person} is not {act} {_a(thing)}"
            hypothesis = f"{person} is {act2} {_a(sibling)}"
    else:
        if variant:
            premise = f"{person} is {act} {_a(thing)}"
            hypothesis = f"{person} is not {act2} {_a(thing)}"
        else:
            premise = f"{person} is not {act} any {hyper}"
            hypothesis = f"{person} is {act2} {_a(thing)}"
    return premise, hypothesis


_QUANTIFIER_PATTERNS = {
    # (premise quantifier, hypothesis quantifier, hypothesis predicate kind)
    ENTAILMENT: [("all", "some", "same"), ("none", "not all", "same"), ("all", "none", "antonym")],
    NEUTRAL: [("some", "all", "same"), ("some", "some", "antonym"), ("not all", "none", "same")],
    CONTRADICTION: [
        ("none", "some", "same"),
        ("all", "some", "antonym"),
        ("all", "not all", "same"),
    ],
}
_QUANTIFIER_TEXT = {
    "all": "all of the",
    "some": "some of the",
    "none": "none of the",
    "not all": "not all of the",
}


def _quantifier(rng, label):
    group = rng.choice(GROUPS)
    state, paraphrase, antonym = rng.choice(STATES)
    q_premise, q_hypothesis, kind = rng.choice(_QUANTIFIER_PATTERNS[label])
    predicate = antonym if kind == "antonym" else rng.choice([state, paraphrase])
    premise = f"{_QUANTIFIER_TEXT[q_premise]} {group} are {state}"
    hypothesis = f"{_QUANTIFIER_TEXT[q_hypothesis]} {group} are {predicate}"
    return premise, hypothesis


_FAMILIES = (_lexical, _negation, _quantifier)


def generate(num_examples, seed):
    """Returns `num_examples` (premise, hypothesis, label) triples, labels balanced."""
    rng = random.Random(seed)
    examples = []
    for i in range(num_examples):
        label = i % 3
        premise, hypothesis = rng.choice(_FAMILIES)(rng, label)
        examples.append((_cap(premise), _cap(hypothesis), label))
    rng.shuffle(examples)
    return examples


def write_tsv(path, examples, labels=LABELS):
    """Writes plain `premise<TAB>hypothesis<TAB>label` rows."""
    with open(path, "w", encoding="utf-8") as f:
        for premise, hypothesis, label in examples:
            f.write(f"{premise}\t{hypothesis}\t{labels[label]}\n")
    return path
