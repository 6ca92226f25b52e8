"""The assistant's vocabulary (assistant.yaml in the hall description): how citizens say what the catalogue says.

The catalogue speaks the departments' language (个体工商户, 不动产权证书); citizens say 奶茶店 and 房本. This table
maps colloquial words to words the catalogue itself uses, so the index never learns a service the catalogue
does not have: a synonym whose catalogue words appear nowhere leads nowhere. `elsewhere` lists matters this hall
does not handle (passports, traffic fines): a question about one is handed to a person, never guessed.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FILE = 'assistant.yaml'

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r'^[0-9+()\- ]{3,24}$')]


class _Spec(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class Synonym(_Spec):
    """Any of `say` (the citizen's words) means all of `means` (words found in the catalogue's texts). A `say`
    word with a `*` is a pattern: 开*店 is said by 开个小店 and 开一家奶茶店 (at most a few characters between)."""

    say: list[Word] = Field(min_length=1)
    means: list[Word] = Field(min_length=1)
    context: bool = False  # says who or what state (丢了, 老人, 上班), never which matter: alone it answers nothing


class Elsewhere(_Spec):
    """A matter handled elsewhere: any of `say`, together with any of `with` when given (身份证 + 丢)."""

    say: list[Word] = Field(min_length=1)
    with_: list[Word] = Field(default_factory=list, alias='with')
    where: str = Field(default='', max_length=100)  # where to go instead, in the hall's words (optional)
    where_en: str = Field(default='', max_length=100)


class Vocabulary(_Spec):
    """assistant.yaml: the hall's phone for a person's help, the synonym table and the matters handled elsewhere."""

    phone: Phone | None = None
    phone_label: str = Field(default='', max_length=40)
    phone_label_en: str = Field(default='', max_length=40)
    synonyms: list[Synonym] = Field(default_factory=list)
    elsewhere: list[Elsewhere] = Field(default_factory=list)
