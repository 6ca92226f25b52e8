"""The assistant's ranking: jieba segmentation and a BM25 index (bm25s) over the catalogue, offline and in memory.

One document per service: its name (counted three times: a name word says more than a material), description,
materials, kiosk questions with their options, and department. A question is segmented the same way; the
vocabulary's synonyms found in it (plain words, or patterns such as 开*店) add the catalogue words they mean, so
奶茶店 reaches 个体工商户. Only services of the catalogue can come out, and only with the words that matched (`why`).

Ranking: each thing the question says (a synonym, or a catalogue word of the citizen's own) casts one vote over
the services, weighted by how late it comes (a Chinese question names its matter last: 个体户能开发票吗 is about
发票) and lower for a material asked about (扯证需要户口本吗) or a one-character word; the whole question's BM25
score breaks near-ties. A word neither the catalogue nor the vocabulary knows still votes, weakly, through its
two-character pieces (注册资本 shares 注册 with 注册公司). Refusal uses the BM25 evidence alone, so the vote never
makes a weak match look strong.

Nothing fits when the question names a matter handled elsewhere, when too little of what it says is known to
the catalogue, when it names no matter (only context such as 丢了 or 老人: 手机丢了怎么办), or when the best
BM25 score is under `MIN_SCORE`; the caller then hands over to a person. The thresholds and weights were
calibrated on the question set (tests/assistant_questions.yaml, docs in bench/README.md).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.services.assistant_vocabulary import Elsewhere, Vocabulary
from app.services.materials import Question

MIN_SCORE = 1.2  # the best BM25 score under which nothing is offered (calibrated, see the module docstring)
MIN_KNOWN = 0.3  # the share (by characters) of a question's content words the catalogue or vocabulary know
IMPLIED_WEIGHT = 0.8  # a catalogue word reached through a synonym counts less than the citizen's own word
RELATIVE = 0.5  # further answers score at least this share of the best one
TIE_BREAK = 0.3  # the whole question's BM25 score (scaled to 1) breaks near-ties between the votes
LATE = 1.5  # the last word of a question counts up to 2.5 times the first (the matter comes last)
FULL_VOTE = 2.5  # a word whose best BM25 score reaches this casts a whole vote; a weaker one casts part of one
ASKED_OF = ('需要', '要带', '带', '要不要', '用不用', '需不需要', '得带')  # 需要户口本吗: asks for a material
ASKED_FOR = 0.5  # the vote of a word asked about as a material
UNKNOWN_VOTE = 0.5  # a word neither catalogue nor vocabulary knows votes through its two-character pieces
SINGLE_CHARACTER = 0.3  # a citizen's one-character word (证, 房) is weak evidence of what they mean
MAX_ANSWERS = 3
MAX_REASONS = 4
GAP = '*'  # in a `say` word, a few characters of anything: 开*店 is 开个小店, 开一家奶茶店 (not across punctuation)
MAX_GAP = 6
_PUNCTUATION = r'\s,.!?;:，。！？；：、'

_STOPWORD_TEXT = """
的 了 吗 呢 啊 吧 呀 哦 嘛 么 哪 我 我们 你 您 他 她 它 咱 自己 要 想 想要 怎么 怎么办 怎样 如何 什么 啥 咋 咋办
哪里 哪儿 在哪 在哪儿 去哪 哪个 哪些 办 办理 需要 需 要求 可以 能 能不能 可不可以 是 不是 是不是 有 没有 一下
请问 问 问下 个 这个 那个 这 那 在 到 和 与 或 或者 及 把 被 给 让 去 来 得 地 都 也 还 就 又 才 该 应该 多少 几
时候 手续 流程 材料 带 带什么 一些 东西 事 事情 一个 现在 今天 已经 准备 打算 跟 对 从 向 里 上 下 中 后 前 时
之后 以后 需不需要 用不用 要不要 行 行不行 谢谢 你好 好 如果 的话 那么 还有 然后 所以 因为 但是 就是
这边 那边 这里 那里 哪边 哪家 怎么弄 怎么样 咋弄 咋整 弄 搞 谁 找谁 你们 他们 咱们 俩 可能 必须 一定 知道 不知道
麻烦 帮 帮我 请 先 再 会 下一步 开始 从哪 哪一步 带啥 多久 多长时间 能否 是否 还要 要带 要去 去哪儿
别人 人家 朋友 两个 三个 几个 一家 一步 一点 有点 一直 这些 那些 这种 那种 为什么 怎么回事 不了 成 当 得了 可 呗
a an the i my me we our you your to of for in on at do does did is are be can could how what where when which
who why need needs want get please with and or it this that there
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())  # function words and the question's frame (怎么办, 要带什么)


@dataclass(frozen=True)
class ServiceText:
    """What the index reads of one service (the catalogue's own words, nothing added)."""

    code: str
    name: str
    name_en: str
    description: str
    department: str
    department_en: str
    materials: tuple[str, ...]
    materials_en: tuple[str, ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Reason:
    """One matched word: the citizen's `word`, the catalogue `term` it reached, and in which part of the service."""

    word: str
    term: str
    field: str  # name / description / materials / questions / department


@dataclass(frozen=True)
class Hit:
    code: str
    score: float
    why: tuple[Reason, ...]
    answers: dict[str, str]  # kiosk questions the words already answer ({'reason': 'lost'} for 丢了)


@dataclass(frozen=True)
class Ranking:
    hits: tuple[Hit, ...]  # empty: nothing fits well enough
    elsewhere: Elsewhere | None  # the question names a matter this hall does not handle
    known: float  # the share of the question's content words the index understood


FIELDS = ('name', 'description', 'materials', 'questions', 'department')
TOPICAL = ('name', 'description', 'questions')  # where a word names a matter (a material or department does not)


def normalise(text: str) -> str:
    """Full-width letters and digits as ASCII (ＡＢ１２ -> ab12), lower case, no control characters."""
    folded = unicodedata.normalize('NFKC', text).casefold()
    return ''.join(ch for ch in folded if unicodedata.category(ch)[0] != 'C')


class Segmenter:
    """A jieba tokenizer of its own (jieba's default one is shared by the whole process) that knows the
    vocabulary's words, so 奶茶店 and 社保卡 stay whole; the search mode also yields their parts (社保)."""

    def __init__(self, words: Iterable[str], *, cache_dir: Path | None = None) -> None:
        """`cache_dir` keeps jieba's prepared dictionary (~9 MB; the app's VAR_DIR) instead of the system's
        temporary folder, which a hardened host may clear or forbid."""
        import jieba  # here, in the build's thread: importing it and loading its dictionary take seconds

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._jieba.tmp_dir = str(cache_dir)
        self._jieba.initialize()
        for word in sorted(set(words)):
            if len(word) > 1:
                self._jieba.add_word(normalise(word))

    def tokens(self, text: str, known: Collection[str] = ()) -> list[str]:
        """Content words of `text`: stop words, punctuation and spaces dropped. A two-character word that is not
        `known` and holds a stop word is read as its characters: jieba glues 想 or 哪 to a verb (想开, 哪领), the index
        knows 开 and 领."""
        words = [w for w in self._jieba.lcut_for_search(normalise(text)) if w.strip() and any(c.isalnum() for c in w)]
        if known:
            words = [part for w in words for part in (tuple(w) if _glued(w, known) else (w,))]
        return [w for w in words if w not in STOPWORDS]


def vocabulary_words(vocabulary: Vocabulary) -> list[str]:
    """The words the segmenter must keep whole: every synonym and every matter handled elsewhere (a pattern's
    parts, 开*店 -> 开, 店, are no words of their own)."""
    words = [w for s in vocabulary.synonyms for w in (*s.say, *s.means)]
    words += [w for e in vocabulary.elsewhere for w in (*e.say, *e.with_)]
    return [w for w in words if GAP not in w]


class Said:
    """The `say` words of one synonym, ready to look for: plain words as substrings, patterns (开*店) as regexes."""

    def __init__(self, words: Iterable[str]) -> None:
        normal = [normalise(word) for word in words]
        self.plain = [word for word in normal if GAP not in word]
        gap = f'[^{_PUNCTUATION}]{{0,{MAX_GAP}}}?'
        self.patterns = [
            re.compile(gap.join(re.escape(part) for part in word.split(GAP))) for word in normal if GAP in word
        ]

    def longest(self, text: str) -> str:
        """The longest of the plain words found in the question, else the text a pattern spans; '' when none is
        (a word the citizen said, 奶茶店, explains an answer better than the span 开奶茶店)."""
        found = [word for word in self.plain if word in text]
        found = found or [match.group(0) for pattern in self.patterns if (match := pattern.search(text))]
        return max(found, key=len, default='')


def _glued(word: str, known: Collection[str]) -> bool:
    return len(word) == 2 and word not in known and word not in STOPWORDS and any(ch in STOPWORDS for ch in word)


class AssistantIndex:
    """Built once per catalogue (start-up, then on every HallConfigChanged) with the process's one segmenter."""

    def __init__(self, services: Sequence[ServiceText], vocabulary: Vocabulary, segmenter: Segmenter) -> None:
        self.services = tuple(services)
        self.vocabulary = vocabulary
        self.segmenter = segmenter
        self.fields = [self._fields(service) for service in self.services]
        corpus = [
            [*f['name'], *f['name'], *f['name'], *f['description'], *f['materials'], *f['questions'], *f['department']]
            for f in self.fields
        ]
        self.vocab = {token for document in corpus for token in document}
        import bm25s  # here, in the build's thread, like jieba: the app serves while the index builds

        self.bm25 = bm25s.BM25()
        if corpus:
            self.bm25.index(corpus, show_progress=False)
        self.rows = {t: np.asarray(self.bm25.get_scores([t]), dtype=float) for t in self.vocab}  # BM25 adds up
        self.means = [
            (Said(s.say), {m: self.segmenter.tokens(m) for m in s.means}, s.context) for s in vocabulary.synonyms
        ]
        self.elsewhere = [
            (e, [normalise(w) for w in e.say], [normalise(w) for w in e.with_]) for e in vocabulary.elsewhere
        ]
        self.bigrams = self._bigram_votes()
        self.topical = {t for f in self.fields for field in TOPICAL for t in f[field] if len(t) > 1}

    def _scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 of the tokens over the services: the sum of each token's row, computed once at build time."""
        scores = np.zeros(len(self.services))
        for token in tokens:
            row = self.rows.get(token)
            if row is not None:
                scores += row
        return scores

    def _names_a_matter(self, searchable: list[str], matched: Sequence[tuple[str, object, bool]]) -> bool:
        """Whether the question names a matter: a synonym that is no mere context, or a word of its own that a
        service's name, description or kiosk questions use; else two different contexts together (老人 + 补贴).
        手机丢了, 医院几点上班 and 银行卡密码 (a material only) name none: a person answers them."""
        words = [word for word, _, _ in matched]
        if any(not context for _, _, context in matched):
            return True
        if any(t in self.topical and not any(t in word for word in words) for t in searchable):
            return True
        return len(set(words)) >= 2

    def _votes(
        self, text: str, searchable: list[str], unknown: list[str], said: Sequence[tuple[str, dict[str, list[str]]]]
    ) -> np.ndarray:
        """Each thing the citizen said (a synonym with the words it stands for, or a catalogue word of their own)
        casts one vote, spread over the services in proportion to its BM25 scores; later things weigh more. A
        question names its matter last (个体户能开发票吗: 发票, not 个体户), and one vivid word (奶茶店, reaching a
        service name three times over) no longer outweighs the rest of the question."""
        votes = np.zeros(len(self.services))
        length = max(len(text), 1)
        for word, means in said:
            implied = [t for tokens in means.values() for t in tokens if t in self.vocab]
            own = [t for t in searchable if t in word]
            votes += _share(self._scores(own) + IMPLIED_WEIGHT * self._scores(implied)) * _weight(text, word, length)
        for token in searchable:
            if not any(token in word for word, _ in said):
                single = SINGLE_CHARACTER if len(token) == 1 else 1.0
                votes += single * _share(self._scores([token])) * _weight(text, token, length)
        for token in unknown:
            if len(token) > 1 and not any(token in word for word, _ in said):
                near = sum((self.bigrams[b] for b in _bigrams(token) if b in self.bigrams), np.zeros(len(votes)))
                votes += UNKNOWN_VOTE * _share(near) * _weight(text, token, length)
        return votes

    def _bigram_votes(self) -> dict[str, np.ndarray]:
        """Where each two-character piece of the catalogue's words and the vocabulary's `say` words leads, so a
        word nobody listed still votes for the services of the words it shares a piece with (注册资本 -> 注册)."""
        pieces: dict[str, np.ndarray] = {}

        def add(word: str, toward: np.ndarray) -> None:
            for piece in _bigrams(word):
                pieces[piece] = pieces.get(piece, np.zeros(len(self.services))) + toward

        for token in self.vocab:
            add(token, _share(self._scores([token])))
        for say, means, _ in self.means:
            toward = _share(self._scores([t for tokens in means.values() for t in tokens if t in self.vocab]))
            for word in say.plain:
                add(word, toward)
        return pieces

    def _fields(self, service: ServiceText) -> dict[str, list[str]]:
        questions = ' '.join(
            f'{q.text} {q.text_en} ' + ' '.join(f'{o.label} {o.label_en}' for o in q.options) for q in service.questions
        )
        texts = {
            'name': f'{service.name} {service.name_en} {service.code}',
            'description': service.description,
            'materials': ' '.join((*service.materials, *service.materials_en)),
            'questions': questions,
            'department': f'{service.department} {service.department_en}',
        }
        return {field: self.segmenter.tokens(text) for field, text in texts.items()}

    def rank(self, query: str) -> Ranking:
        """The services that fit the question, best first, each with its reasons; none when nothing fits."""
        text = normalise(query)
        away = next((matter for matter, say, with_ in self.elsewhere if _mentions(text, say, with_)), None)
        matched = [(word, means, context) for say, means, context in self.means if (word := say.longest(text))]
        said = [(word, means) for word, means, _ in matched]
        own = self.segmenter.tokens(text, self.vocab | {word for word, _ in said})
        known = _known_share(own, self.vocab, [word for word, _ in said])
        if away is not None or not own or not self.services:
            return Ranking((), away, known)
        implied = [t for _, means in said for tokens in means.values() for t in tokens if t in self.vocab]
        searchable = [t for t in own if t in self.vocab]
        expanded = own + implied
        if not (searchable or implied) or known < MIN_KNOWN or not self._names_a_matter(searchable, matched):
            return Ranking((), None, known)
        evidence = self._scores(searchable) + IMPLIED_WEIGHT * self._scores(implied)
        if float(evidence.max()) < MIN_SCORE:
            return Ranking((), None, known)
        unknown = [t for t in own if t not in self.vocab]
        scores = self._votes(text, searchable, unknown, said) + TIE_BREAK * evidence / evidence.max()
        scores[evidence < MIN_SCORE] = 0.0  # a service the question barely touches is never offered
        order = [int(i) for i in np.argsort(-scores, kind='stable')]
        best = float(scores[order[0]])
        hits = []
        for index in order[:MAX_ANSWERS]:
            score = float(scores[index])
            if score <= 0 or score < best * RELATIVE:
                break
            fields = self.fields[index]
            hits.append(
                Hit(
                    code=self.services[index].code,
                    score=round(score, 2),
                    why=_reasons(own, said, fields),
                    answers=_answers(self.services[index].questions, text, set(expanded), self.segmenter),
                )
            )
        return Ranking(tuple(hits), None, known)


def _bigrams(word: str) -> list[str]:
    """The word's two-character pieces that hold no stop word (开个店 -> none of 开个, 个店)."""
    return [word[i : i + 2] for i in range(len(word) - 1) if not any(ch in STOPWORDS for ch in word[i : i + 2])]


def _share(scores: np.ndarray) -> np.ndarray:
    """One vote spread over the services by their scores (the best gets 1, or less when even its score is weak:
    under FULL_VOTE); no score, no vote."""
    top = float(scores.max()) if len(scores) else 0.0
    return scores / max(top, FULL_VOTE) if top > 0 else scores


def _weight(text: str, word: str, length: int) -> float:
    """A word's vote grows with how late in the question it comes (1 at the start, 1 + LATE at the end)."""
    at = max(text.find(word), 0)
    if text[:at].endswith(ASKED_OF):
        return ASKED_FOR  # 扯证需要户口本吗: what they must bring, not the matter
    return 1.0 + LATE * (at + len(word)) / length


def _mentions(text: str, say: Sequence[str], with_: Sequence[str]) -> bool:
    return any(word in text for word in say) and (not with_ or any(word in text for word in with_))


def _known_share(tokens: Sequence[str], vocab: set[str], synonyms: Sequence[str]) -> float:
    """Characters of the question's content words that the catalogue or a synonym covers, over all of them."""
    total = sum(len(t) for t in tokens)
    if not total:
        return 0.0
    covered = sum(len(t) for t in tokens if t in vocab or any(t in word or word in t for word in synonyms))
    return covered / total


def _reasons(
    own: Sequence[str], said: Sequence[tuple[str, dict[str, list[str]]]], fields: dict[str, list[str]]
) -> tuple[Reason, ...]:
    """The citizen's words that reached this service: their own (name first), then through a synonym."""
    where = {field: set(tokens) for field, tokens in fields.items()}
    reasons: list[Reason] = []
    seen: set[str] = set()

    def add(word: str, term: str, tokens: Iterable[str]) -> None:
        for field in FIELDS:
            if word not in seen and any(t in where[field] for t in tokens):
                reasons.append(Reason(word, term, field))
                seen.add(word)
                return

    for token in sorted(set(own), key=lambda t: (-len(t), own.index(t))):
        if not any(token in r.word for r in reasons):
            add(token, token, [token])
    for word, means in said:
        for term, tokens in means.items():
            add(word, term, tokens)
    reasons.sort(key=lambda r: FIELDS.index(r.field))
    return tuple(reasons[:MAX_REASONS])


def _answers(questions: Sequence[Question], text: str, tokens: set[str], segmenter: Segmenter) -> dict[str, str]:
    """Kiosk questions the citizen's words answer: one option's own words (not shared with the others) were said.
    Two options said at once (新房还是二手房) answer nothing."""
    answers: dict[str, str] = {}
    for question in questions:
        words = {o.value: set(segmenter.tokens(o.label)) for o in question.options}
        said = []
        for option in question.options:
            others = set().union(*(w for value, w in words.items() if value != option.value))
            own = {w for w in words[option.value] - others if len(w) > 1}
            if normalise(option.label) in text or own & tokens:
                said.append(option.value)
        if len(said) == 1:
            answers[question.code] = said[0]
    return answers
