"""The questionnaire registry: which questionnaires a tablet may answer over the device channel
(``kol/v1/d/{device_id}/responses``, docs/questionnaires.md), their items, and how an answer of
the symptom diary becomes the alert engine's ``symptoms`` series. Adding a questionnaire (a
monthly patient-reported outcome) means adding one entry here.

The symptom diary ``kol-symptoms-v1`` asks, against the patient's usual state, for the three
Anthonisen major symptoms (Anthonisen et al., Ann Intern Med 1987;106:196) and the four Seemungal
minor symptoms (Seemungal et al., Am J Respir Crit Care Med 1998;157:1418), plus optional free
text.

The patient-reported outcome ``kol-pro-v1`` (issue #19, docs/outcomes.md) is the one yes/no
question of ``core.pro``, asked every ``KOL_PRO_INTERVAL_DAYS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from core.measurement_types import TYPE_BY_INDEX
from core.pro import PRO_QUESTIONNAIRE, QUESTION

AnswerKind = Literal["boolean", "text"]
Category = Literal["major", "minor"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    link_id: str
    """The item's id in payloads, in storage and in FHIR (``linkId``)."""
    kind: AnswerKind
    text_da: str
    text_en: str
    required: bool
    category: Category | None = None
    """Symptom diary only: Anthonisen major or Seemungal minor symptom."""
    max_chars: int = 0
    """Text answers: the longest accepted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Questionnaire:
    id: str
    """Versioned: a changed questionnaire gets a new id, answers to the old one stay readable."""
    title_da: str
    title_en: str
    items: tuple[Item, ...]

    def item(self, link_id: str) -> Item | None:
        return next((i for i in self.items if i.link_id == link_id), None)


SYMPTOM_DIARY = "kol-symptoms-v1"

QUESTIONNAIRES: MappingProxyType[str, Questionnaire] = MappingProxyType({q.id: q for q in (
    Questionnaire(
        id=SYMPTOM_DIARY, title_da="Symptomdagbog", title_en="Symptom diary",
        items=(
            Item(link_id="breathlessness", kind="boolean", required=True, category="major",
                 text_da="Er du mere forpustet end du plejer?",
                 text_en="Are you more breathless than usual?"),
            Item(link_id="sputum_volume", kind="boolean", required=True, category="major",
                 text_da="Hoster du mere slim op end du plejer?",
                 text_en="Are you coughing up more sputum than usual?"),
            Item(link_id="sputum_colour", kind="boolean", required=True, category="major",
                 text_da="Har dit slim skiftet farve (gult, grønt eller brunt)?",
                 text_en="Has your sputum changed colour (yellow, green or brown)?"),
            Item(link_id="cold", kind="boolean", required=True, category="minor",
                 text_da="Er du forkølet (løbende eller stoppet næse)?",
                 text_en="Do you have a cold (runny or blocked nose)?"),
            Item(link_id="wheeze", kind="boolean", required=True, category="minor",
                 text_da="Hvæser eller piber det mere end du plejer, når du trækker vejret?",
                 text_en="Are you wheezing more than usual?"),
            Item(link_id="sore_throat", kind="boolean", required=True, category="minor",
                 text_da="Har du ondt i halsen?", text_en="Do you have a sore throat?"),
            Item(link_id="cough", kind="boolean", required=True, category="minor",
                 text_da="Hoster du mere end du plejer?",
                 text_en="Are you coughing more than usual?"),
            Item(link_id="note", kind="text", required=False, max_chars=1000,
                 text_da="Vil du fortælle os mere? (valgfrit)",
                 text_en="Anything else you want to tell us? (optional)"),
        )),
    Questionnaire(
        id=PRO_QUESTIONNAIRE, title_da="Månedens spørgsmål", title_en="This month's question",
        items=(Item(link_id=QUESTION.link_id, kind="boolean", required=True,
                    text_da=QUESTION.text_da, text_en=QUESTION.text_en),)),
)})

SYMPTOM_ITEMS: tuple[Item, ...] = tuple(
    i for i in QUESTIONNAIRES[SYMPTOM_DIARY].items if i.category is not None)
"""The diary's symptoms in bit order: bit ``k`` of a diary's symptom mask is ``SYMPTOM_ITEMS[k]``
(the three major symptoms are bits 0-2, the four minor ones bits 3-6)."""
assert [i.category for i in SYMPTOM_ITEMS] == ["major"] * 3 + ["minor"] * 4, "bit layout"
MAJOR_MASK = 0b0000111
MINOR_MASK = 0b1111000

SYMPTOM_SERIES = "symptoms"
"""The alert engine's series of diary answers: one value per answered diary, its symptom mask."""
SYMPTOM_SERIES_INDEX = len(TYPE_BY_INDEX)
"""The series' index next to the measurement types' indices (the engine's ``type_index``)."""


def symptom_mask(answers: dict[str, bool | str]) -> int:
    """The symptom mask of a diary's answers (``link_id`` → answer).

    >>> symptom_mask({"breathlessness": True, "cough": True, "cold": False})
    65
    """
    return sum(1 << k for k, item in enumerate(SYMPTOM_ITEMS) if answers.get(item.link_id) is True)
