"""What the tasks produce, as typed records: the rows of ``results.json`` (``evaluate run``) and
``surprise.json`` (``evaluate surprise``). ``evaluate schema`` prints their JSON Schema, so that a
reader in another language can check a file before trusting it.

Field order is the order written to disk. Secondary metrics exist only for the kind they belong to
(``accuracy`` for classes, ``spearman`` and ``mae`` for regression): a record leaves the fields named
in ``omit_if_none`` out of the file when they have no value, rather than writing null.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from evaluate.config import RunConfig, SurpriseConfig

Interval = list[float]  # [low, high] of a 95% bootstrap interval; NaN where it cannot be computed
TargetKind = Literal["class", "regression"]
LAYER_HELP = ("the encoder's block whose hidden state was probed, for an encoder with layers= (a sweep: one row "
              "per layer, the same encoder spec); absent otherwise")


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    omit_if_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in self.omit_if_none:
            if data.get(name) is None:
                data.pop(name, None)
        return data

    def row(self) -> dict[str, Any]:
        """The record as written to json."""
        return self.model_dump(mode="python")


class Score(Record):
    """One probe's score on one target of one dataset, for one encoder: fitted on ``fit_view``'s
    train clips and tested on ``view``'s test clips. Within-view rows have ``fit_view == view``;
    cross-view rows are the probe fitted on ``original`` predicting another view without refitting."""

    omit_if_none = ("layer", "accuracy", "spearman", "mae", "angular_error", "subset", "ci_note")

    dataset: str
    target: str
    kind: TargetKind
    encoder: str
    layer: int | None = Field(None, description=LAYER_HELP)
    view: str = Field(description="the view of the test clips")
    fit_view: str = Field(description="the view of the clips the probe was fitted on")
    probe: str
    metric: Literal["balanced_accuracy", "r2", "circular_r2"]
    value: float
    ci95: Interval = Field(description="95% CI from a bootstrap over test groups; [NaN, NaN] when undefined")
    ci_note: str | None = Field(None, description="why ci95 is undefined, when it is")
    chance: float = Field(description="the metric of a predictor that knows nothing")
    accuracy: float | None = None  # classes only
    spearman: float | None = None  # regression only
    mae: float | None = None  # regression only, in the target's unit
    angular_error: float | None = None  # circular targets only: mean error in the target's unit
    n_train: int
    n_test: int
    test_groups: int
    unit: str | None
    subset: str | None = Field(None, description="'moves=linear': scored only on the clips where the target is "
                                                 "defined")
    probe_params: dict[str, Any] = Field(description="what the probe chose (C, alpha, learning rate...)")


class Margin(Record):
    """How much of a score needs time: the original view's score minus its control's, the control
    floored at chance. ``static``: control ``single_frame`` (what one frame gives); ``order``:
    control ``shuffled`` (the same frames, order destroyed)."""

    omit_if_none = ("layer", "subset", "ci_note")

    dataset: str
    target: str
    kind: TargetKind
    encoder: str
    layer: int | None = Field(None, description=LAYER_HELP)
    probe: str
    margin_type: Literal["static", "order"]
    control_view: str
    value: float = Field(description="original − max(floor, control)")
    ci95: Interval = Field(description="paired bootstrap over test groups")
    ci_note: str | None = Field(None, description="why ci95 is undefined, when it is")
    floor: float = Field(description="the chance level the control is floored at")
    original: float
    control: float
    degenerate_control: bool = Field(description="the encoder's features under the control view are the same "
                                                 "for every clip (e.g. frame differences of a repeated frame): "
                                                 "judge the target by the oracles and track instead")
    test_groups: int
    subset: str | None = None


class ReversalScore(Record):
    """The probe fitted on ``original`` predicting the *reversed* test clips, scored against the labels
    the reversal should have (``rule``: direction swaps, vz_start becomes −vz_end...). A probe that
    reads time scores high; one that reads static cues scores at chance."""

    dataset: str
    target: str
    kind: TargetKind
    encoder: str
    layer: int | None = Field(None, description=LAYER_HELP)
    probe: str
    rule: str
    metric: Literal["balanced_accuracy", "r2", "circular_r2"]
    value: float
    ci95: Interval
    ci_note: str | None = Field(None, description="why ci95 is undefined, when it is")
    chance: float
    accuracy: float | None = None
    spearman: float | None = None
    mae: float | None = None
    angular_error: float | None = None
    n_test: int
    test_groups: int

    omit_if_none = ("layer", "accuracy", "spearman", "mae", "angular_error", "ci_note")


class IdentifiabilityScore(Record):
    value: float
    ci95: Interval
    chance: float
    metric: str


class Identifiability(Record):
    """What one frame's ground truth, all frames' ground truth, and a pixel tracker give of a target."""

    omit_if_none = ("oracle_static", "oracle_full", "track", "track_single_frame")

    dataset: str
    target: str
    probe: str
    verdict: Literal["static", "temporal", "not identified", "unknown"] = Field(
        description="static: oracle-static's CI lies above chance (one frame gives it); temporal: not static, and "
                    "oracle-full's CI lies above chance; not identified: neither; unknown: an oracle is missing")
    oracle_static: IdentifiabilityScore | None = None
    oracle_full: IdentifiabilityScore | None = None
    track: IdentifiabilityScore | None = None
    track_single_frame: IdentifiabilityScore | None = None


class TargetInfo(Record):
    """A target as the dataset declares it (dataset.json)."""

    omit_if_none = ("reversal", "defined_when", "period", "residual_on", "in_one_frame")

    kind: TargetKind
    classes: list[str]
    unit: str | None
    description: str
    reversal: dict[str, Any] | None = Field(None, description="its value on the time-reversed clip: rule same, "
                                                              "negate, swap_classes, rotate or undefined")
    defined_when: dict[str, str] | None = None
    period: float | None = None
    residual_on: list[str] | None = None
    in_one_frame: bool | None = Field(None, description="the family's promise, checked by `simgen audit`: whether "
                                                        "one frame's visible state may give the target")


class DatasetRecord(Record):
    omit_if_none = ("clips", "resolution", "targets")  # surprise.json records fewer

    name: str
    path: str
    fingerprint: str
    content_sha256: str
    clips: int | None = None
    frames: int
    resolution: list[int] | None = None
    targets: dict[str, TargetInfo] | None = None


class EncoderRecord(Record):
    encoder: str
    role: str = Field("pixels", description="what it stands for in the verdict: tubelet, album, pixels, control...")
    identity: dict[str, Any] = Field(description="everything the embeddings depend on (the cache key)")
    notes: list[str]
    timings: dict[str, float | int]  # seconds, and counts (clips, cache hits)


class SkippedEncoder(Record):
    encoder: str
    reason: str


class SkippedClip(Record):
    dataset: str
    clip: str


class SkippedTarget(Record):
    dataset: str
    target: str
    reason: str


class RunSkipped(Record):
    encoders: list[SkippedEncoder]
    clips: list[SkippedClip]
    targets: list[SkippedTarget]


class Comparison(Record):
    """``a − b`` of two encoders on the same test clips: a score (``original``) or a margin, with a paired
    group-bootstrap CI, a paired permutation p and its Holm adjustment over every comparison of the file."""

    omit_if_none = ("control_view", "a_layer", "b_layer")

    dataset: str
    target: str
    kind: TargetKind
    metric: Literal["balanced_accuracy", "r2", "circular_r2"]
    fit_view: str
    test_view: str
    control_view: str | None = Field(None, description="the margin's control view (single_frame, shuffled)")
    probe: str
    quantity: Literal["original", "static_margin", "order_margin"]
    a: str = Field(description="encoder, as the results rows spell it")
    b: str
    a_layer: int | None = Field(None, description="a's standing layer (chosen on validation data) if it sweeps layers")
    b_layer: int | None = None
    a_value: float
    b_value: float
    diff: float = Field(description="a_value − b_value")
    ci95: Interval = Field(description="paired bootstrap over test groups: the same resampled groups score both")
    p: float = Field(description="two-sided, paired permutation test (the encoders' predictions swapped within "
                                 "groups); beyond every permutation, a normal tail capped at 1/(n + 1)")
    p_adjusted: float = Field(description="Holm, over every comparison of the file")
    call: Literal["a", "b", "tie"] = Field(description="the side ahead at adjusted p < 0.05; tie: could be chance")
    n_test: int
    test_groups: int


class VerdictRow(Record):
    """One line of the verdict: a tubelet encoder against an album (or pixel) encoder on one target, with
    whether the task's controls certify it as a test of time."""

    omit_if_none = ("static_margin",)

    dataset: str
    target: str
    probe: str
    tubelet: str
    opponent: str
    opponent_role: str
    certified: Literal["certified", "static", "not identified", "no controls"] = Field(
        description="certified: the run's oracles say one frame does not give the target and all frames do "
                    "(identifiability 'temporal') and the family does not declare that one frame may give it "
                    "(in_one_frame, checked at scale by `simgen audit`); static: one frame gives it (measured or "
                    "declared), so it is no test of time; no controls: the run has no oracles")
    original: Comparison
    static_margin: Comparison | None = None


ConfigT = TypeVar("ConfigT", RunConfig, SurpriseConfig)


class ResultFile(Record, Generic[ConfigT]):
    """What every result file starts with: how it was made, from what, by which encoders."""

    format_version: Literal[1]
    created: str  # UTC, ISO 8601
    config: ConfigT
    versions: dict[str, str]
    datasets: list[DatasetRecord]
    encoders: list[EncoderRecord]


class LayerChoice(Record):
    """Which layer of a swept encoder stands for it (in margins, comparisons and the verdict) on one
    target and probe: the best probe score on validation data, never on test."""

    dataset: str
    target: str
    encoder: str
    probe: str
    layer: int
    criterion: str = Field(description="what was compared, on which data")
    validation_scores: dict[int, float] = Field(description="layer -> its validation score (higher is better)")


class RunResults(ResultFile[RunConfig]):
    """results.json."""

    model_config = ConfigDict(extra="forbid", title="results.json")

    results: list[Score]
    temporal_margins: list[Margin]
    reversal_sensitivity: list[ReversalScore]
    identifiability: list[Identifiability]
    layer_choices: list[LayerChoice] = Field(default_factory=list, description="for each swept encoder, the layer "
                                             "that stands for it per (dataset, target, probe)")
    comparisons: list[Comparison] = Field(default_factory=list)
    comparison_family: str = Field("", description="which tests the Holm adjustment covers")
    verdict: list[VerdictRow] = Field(default_factory=list)
    comparisons_s: float = Field(0.0, description="seconds the comparisons took (of wall_s)")
    step_s: dict[str, float] = Field(default_factory=dict, description=(
        "seconds of each step of the run (of wall_s): plan_s (open and check the datasets), embed_s (decode, "
        "views, forward and cache writes of every encoder; per encoder in encoders[].timings), probe_s (the "
        "probing phase: probe_fit_s of fits, score_s, margins_s and reversal_s of scores with their bootstrap "
        "CIs, and the rest reading rows and writing predictions), identifiability_s, comparisons_s"))
    warnings: list[str]
    skipped: RunSkipped
    wall_s: float


Aggregate = Literal["max", "mean", "onset"]


class GroupScores(Record):
    """Relative accuracy (IntPhys), pairwise accuracy and AUROC of possible/impossible groups (quadruplets or
    pairs), each with a CI over resampled groups."""

    relative_accuracy: float = Field(description="share of groups whose impossible clips are more surprising in "
                                                 "total than their possible ones (ties 0.5)")
    relative_ci95: Interval
    pairwise_accuracy: float = Field(description="per group, the share of (possible, impossible) combinations "
                                                 "won by the possible clip; averaged over groups")
    pairwise_ci95: Interval
    auroc: float
    auroc_ci95: Interval
    n_groups: int


class SurpriseScore(Record):
    omit_if_none = ("control",)

    dataset: str
    encoder: str
    family: str = Field(description="the encoder spec without seed=: random-init seeds share it")
    control: str | None = Field(None, description="its role in certification: a negative control "
                                                  "(extrapolate,order=0|1, frame-classifier) or oracle")
    context: int
    horizon: int
    aggregate: Aggregate = Field(description="max or mean over the windows whose horizon reaches the violation "
                                             "frame; onset: the window whose horizon first holds the onset frame")
    chance: float
    relative_accuracy: float
    relative_ci95: Interval
    pairwise_accuracy: float
    pairwise_ci95: Interval
    auroc: float
    auroc_ci95: Interval
    n_groups: int
    skipped_groups: int = Field(description="groups not scored: the context reaches past the violation frame, or "
                                            "(onset) no window's horizon holds the onset frame")
    by_violation: dict[str, GroupScores] = Field(description="keyed by the group's violation kind (group_violation)")


class SeedSummary(Record):
    dataset: str
    encoder: str
    context: int
    aggregate: Aggregate
    seeds: int
    relative_accuracy_mean: float
    relative_accuracy_sd: float
    pairwise_accuracy_mean: float
    pairwise_accuracy_sd: float
    auroc_mean: float
    auroc_sd: float


class SkippedGroups(Record):
    """Groups of one dataset that one model could not score at one context length."""

    dataset: str
    encoder: str
    context: int
    groups: int = Field(description="groups with a possible and an impossible clip")
    past_violation: int = Field(description="skipped: the context reaches past the violation frame, or no "
                                            "window's horizon reaches it")
    no_onset_window: int = Field(description="skipped for the onset aggregate only: no window's horizon holds "
                                             "the onset frame (a stride longer than the horizon, or a late onset)")


class Certification(Record):
    """Whether one dataset's groups of one violation kind measure surprise at physics: the negative controls
    sit at chance and the positive control passes, in every context and aggregate, on a balanced design."""

    dataset: str
    kind: str = Field(description="group_violation")
    design: str = Field(description="occluded (IntPhys quadruplets) or twins")
    balanced: bool = Field(description="every frame of an impossible clip appears in a possible clip")
    certified: bool
    reasons: list[str] = Field(description="why not: each failing control and where; empty when certified")
    negative_cells: int = Field(description="negative-control scores (model x context x aggregate) checked")
    negative_cells_excluding_chance: int = Field(description="of those, how many have a CI that excludes 0.5")
    expected_by_chance: float = Field(description="how many would exclude 0.5 by chance alone (5% of the cells)")


class SurpriseComparison(Record):
    """``a − b`` of two surprise models' relative accuracy on the same groups of one violation kind, with a
    paired group-bootstrap CI, a paired permutation p (outcomes swapped within groups) and its Holm adjustment
    over every comparison of the file."""

    dataset: str
    kind: str = Field(description="group_violation")
    context: int
    horizon: int
    aggregate: Aggregate
    quantity: Literal["relative_accuracy"]
    a: str = Field(description="surprise model, as the results rows spell it (named first on the command line)")
    b: str
    a_value: float
    b_value: float
    diff: float = Field(description="a_value − b_value")
    ci95: Interval = Field(description="paired bootstrap over groups: the same resampled groups score both")
    p: float = Field(description="two-sided, paired permutation test (the models' group outcomes swapped within "
                                 "groups); beyond every permutation, a normal tail capped at 1/(n + 1)")
    p_adjusted: float = Field(description="Holm, over every comparison of the file")
    call: Literal["a", "b", "tie"] = Field(description="the side ahead at adjusted p < 0.05; tie: could be chance")
    n_groups: int = Field(description="groups of this kind both models scored")
    certified: bool = Field(description="whether the run's controls certify this dataset × kind")


class SurpriseSkipped(Record):
    encoders: list[SkippedEncoder]
    clips: list[SkippedClip]
    groups: list[SkippedGroups] = Field(default_factory=list)


class SurpriseResults(ResultFile[SurpriseConfig]):
    """surprise.json."""

    model_config = ConfigDict(extra="forbid", title="surprise.json")

    certification: list[Certification]
    results: list[SurpriseScore]
    comparisons: list[SurpriseComparison] = Field(default_factory=list)
    seed_summary: list[SeedSummary]
    skipped: SurpriseSkipped
    wall_s: float


class ComparedRun(Record):
    path: str
    created: str
    encoders: list[str]


class CompareResults(Record):
    """comparisons.json (``evaluate compare``): the paired comparisons of runs made apart, on the same data."""

    model_config = ConfigDict(extra="forbid", title="comparisons.json")

    format_version: Literal[1]
    created: str
    runs: list[ComparedRun]
    versions: dict[str, str]
    datasets: list[DatasetRecord]
    encoders: list[EncoderRecord]
    identifiability: list[Identifiability]
    layer_choices: list[LayerChoice]
    comparison_family: str
    comparisons: list[Comparison]
    verdict: list[VerdictRow]
    notes: list[str]


SCHEMAS = {"results.json": RunResults, "surprise.json": SurpriseResults, "comparisons.json": CompareResults}
SCHEMA_FILES = tuple(SCHEMAS)


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> the JSON Schema its content satisfies."""
    return {name: model.model_json_schema(mode="validation") for name, model in SCHEMAS.items()}
