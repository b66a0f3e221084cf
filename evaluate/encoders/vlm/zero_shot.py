"""The zero-shot VLM's answers as result rows: which questions a dataset asks, where each question's
answers sit in a clip's cached vector, and the readout that turns them into predicted classes.

``vlm-zero-shot:<dir>`` caches, for each clip and view, one block per question of the clip's dataset
(dataset.json's class targets that declare a ``question``, in the manifest's order): the question's
tag (:func:`evaluate.encoders.vlm.prompts.question_tag`), then the log-probability of each answer
letter. :class:`AnswerReadout` stands where a probe stands in ``evaluate run``: it is fitted on
nothing and predicts, for each test clip, the class whose letter the model finds most likely. The
rows it gives are built by the same code as a probe's (balanced accuracy with the group-bootstrap CI,
under every view: ``single_frame`` and ``shuffled`` test the LLM's answer as they test a probe), with
``probe`` = ``zero-shot``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from evaluate.encoders.vlm.prompts import answer_letters, question_tag
from evaluate.errors import EvaluateError
from evaluate.probes.base import Probe, ProbeFit, ProbeSkipped
from evaluate.probes.rows import Rows

ZERO_SHOT = "zero-shot"  # the probe name of the zero-shot rows, and the mode in the encoder's identity


class Question(NamedTuple):
    target: str
    text: str
    classes: tuple[str, ...]
    start: int  # the column of its tag in a clip's answer vector; its letters' log-probs follow

    @property
    def tag(self) -> float:
        return question_tag(self.text, self.classes)


@functools.lru_cache(maxsize=64)
def questions_at(root: Path) -> tuple[Question, ...]:
    """The questions the dataset at ``root`` declares, in its manifest's order, with their columns."""
    from simgen.dataset.format import Dataset

    out, start = [], 0
    for name, target in Dataset(root).info.targets.items():
        if target.get("question") and target.get("kind") == "class" and target.get("classes"):
            classes = tuple(target["classes"])
            answer_letters(classes)  # refuses a question over more classes than letters
            out.append(Question(name, target["question"], classes, start))
            start += 1 + len(classes)
    return tuple(out)


def answer_width(questions: tuple[Question, ...]) -> int:
    """The length of a clip's answer vector (1 when the dataset asks nothing: one zero, so the cache
    holds a vector for every clip)."""
    return sum(1 + len(q.classes) for q in questions) or 1


class AnswerReadout(Probe):
    """The zero-shot answers of one dataset's clips read as predictions (no fit)."""

    name = ZERO_SHOT
    description = "a zero-shot VLM's answer: the answer letter with the highest log-probability (no probe)"
    reads_target = True  # fit_predict is told which target it predicts (target_name=)

    def __init__(self, questions: tuple[Question, ...]):
        self.questions = {q.target: q for q in questions}

    def fit_predict(self, kind: str, x_train: Rows | np.ndarray, y_train: np.ndarray, groups: np.ndarray,
                    x_test: Rows | np.ndarray, target_name: str | None = None) -> ProbeFit:
        target = target_name or ""
        question = self.questions.get(target)
        if kind != "class" or question is None:
            raise ProbeSkipped(f"{ZERO_SHOT} (vlm-zero-shot): {target} declares no question; a zero-shot VLM "
                               f"answers only class targets with a question in dataset.json")
        answers = x_test.array() if isinstance(x_test, Rows) else np.asarray(x_test)
        k = len(question.classes)
        block = np.asarray(answers[:, question.start:question.start + 1 + k], dtype=np.float64)
        if block.shape[1] != 1 + k or not np.all(block[:, 0] == question.tag):
            raise EvaluateError(f"{ZERO_SHOT}: the cached answers for {target} were asked another question (the "
                                f"dataset's question or classes changed since); run with a fresh --cache")
        predicted = np.array(question.classes)[np.argmax(block[:, 1:], axis=1)]
        return ProbeFit(predicted, {"question": question.text, "letters": answer_letters(question.classes)})


def answer_readout(record: Any, root: Path) -> dict[str, Probe] | None:
    """{``zero-shot``: the readout} for a zero-shot VLM's embeddings of the dataset at ``root``; None
    for any other encoder (its embeddings are probed)."""
    if record.identity.get("mode") != ZERO_SHOT:
        return None
    return {ZERO_SHOT: AnswerReadout(questions_at(Path(root)))}
