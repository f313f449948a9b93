"""The data's own words (prosthesis types, muscle groups, genders, roles) as a reader of each language says them.

ONE table for every place that shows them: the report and overview pages' tables, the page
header's role, the charts' category labels (bionicflow/reports/charts.py). The data keeps
its values (``forearm_flexors``); only what is shown changes. A value not in the table
(a new type written by a source) is shown as it is, never hidden or guessed.

The values are those the sources hold: telemetry_db's `prosthesis_type` and `muscle_group`
(bionicflow/demo/data.py writes them), crm_db's `gender`, and the reports' roles
(bionicflow/reports/accounts.py).
"""

from __future__ import annotations

# kind -> value -> language -> label. English labels only where the raw value reads badly.
CATEGORIES: dict[str, dict[str, dict[str, str]]] = {
    "prosthesis_type": {
        "hand": {"en": "hand", "ru": "кисть"},
        "forearm": {"en": "forearm", "ru": "предплечье"},
        "arm": {"en": "arm", "ru": "рука"},
        "foot": {"en": "foot", "ru": "стопа"},
        "leg": {"en": "leg", "ru": "нога"},
        "knee": {"en": "knee", "ru": "колено"},
    },
    "muscle_group": {
        "biceps": {"en": "biceps", "ru": "бицепс"},
        "triceps": {"en": "triceps", "ru": "трицепс"},
        "forearm_flexors": {"en": "forearm flexors", "ru": "сгибатели предплечья"},
        "forearm_extensors": {"en": "forearm extensors", "ru": "разгибатели предплечья"},
        "quadriceps": {"en": "quadriceps", "ru": "квадрицепс"},
        "hamstrings": {"en": "hamstrings", "ru": "задняя поверхность бедра"},
        "calf": {"en": "calf", "ru": "икроножная мышца"},
    },
    "gender": {
        "female": {"en": "female", "ru": "женский"},
        "male": {"en": "male", "ru": "мужской"},
        "other": {"en": "other", "ru": "другой"},
    },
    "role": {
        "customer": {"en": "customer", "ru": "клиент"},
        "analyst": {"en": "analyst", "ru": "аналитик"},
    },
}
KINDS = frozenset(CATEGORIES)


def category_label(kind: str, value: str, lang: str) -> str:
    """``value`` of the data category ``kind`` in ``lang``; an unknown kind, value or language: the value itself."""
    if kind not in KINDS:
        raise ValueError(f"unknown category kind {kind!r}: one of {', '.join(sorted(KINDS))}")
    labels = CATEGORIES[kind].get(value)
    return labels.get(lang, value) if labels else value
