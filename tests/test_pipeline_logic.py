"""The look's own logic (gate, crops, batching, per-category search, errors) on a fake backend.

Every model is a ``FakeBackend`` with scripted outputs shaped like the shipped models', so the real
stages decode them; the photo is painted with numpy and the catalog is built from random vectors with
the real catalog writer. No model file, no data set: each test takes milliseconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from edge_bml.backends import TensorSpec
from edge_bml.catalog.build import BuildOutput, variant_identity, write_catalog
from edge_bml.catalog.colour_rerank import DEFAULT_COLOUR_WEIGHT
from edge_bml.catalog.products import ColumnMap, Product
from edge_bml.catalog.search import Catalog
from edge_bml.errors import (
    CatalogEmbedderMismatchError,
    CatalogError,
    CatalogFilterError,
    InputSpecError,
    ManifestError,
)
from edge_bml.look import Look
from edge_bml.manifest import ModelManifest
from edge_bml.pipeline import LookOptions, LookPipeline
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.embedder import ArticleEmbedder
from edge_bml.stages.pose import PoseDetector, PoseEstimator, PoseLandmarker
from tests.fake_backend import (
    EMBEDDER_DIMS,
    VARIANTS,
    ColourEmbedder,
    FakeBackend,
    LandmarkResponder,
    Patch,
    PatchDetector,
    Respond,
    ScriptedPose,
    detector_outputs,
    paint,
    pose_detection_outputs,
    standing_person,
    unit,
    write_fake_variant,
)

WIDTH, HEIGHT = 480, 640
CATALOG_CATEGORIES = ("top", "outerwear", "dress", "pants", "shorts", "skirt", "footwear", "hat")
PER_CATEGORY = 4
FEET = list(range(27, 33))
# Well-separated plain colours for painted articles (none near black, the photo's background).
COLOURS = [
    (r, g, b)
    for r in (40, 140, 240)
    for g in (40, 140, 240)
    for b in (40, 140, 240)
    if (r, g, b) != (140, 140, 140)  # the grey the embedder pads with
]


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, ModelManifest]:
    root = tmp_path_factory.mktemp("fake_models")
    return {task: write_fake_variant(root, task) for task in VARIANTS}


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory, variants) -> tuple[Path, dict[str, np.ndarray]]:
    """A real catalog of random unit vectors (4 products in each of 8 categories), made by the fake embedder."""
    out = tmp_path_factory.mktemp("fake_catalog") / "catalog"
    rng = np.random.default_rng(0)
    products, vectors, colours = [], {}, {}
    for category in CATALOG_CATEGORIES:
        for k in range(PER_CATEGORY):
            key = f"{category}-{k}"
            gender = {"gender": "Men" if k % 2 else "Women"}
            products.append(Product(key, category, f"{category} {k}", f"{key}.jpg", out.parent / f"{key}.jpg", gender))
            vectors[key] = unit(rng.standard_normal(EMBEDDER_DIMS))
            colours[key] = np.array([rng.uniform(20, 80), rng.uniform(-40, 40), rng.uniform(-40, 40)])
    write_catalog(
        out,
        BuildOutput(products, [], vectors, {}, colours),
        embedder=variant_identity(variants["embedder"]),
        dtype="f32",
        columns=ColumnMap(),
        source={},
        colour_weight=DEFAULT_COLOUR_WEIGHT,
        started=dt.datetime.now(dt.UTC),
        seconds=0.0,
    )
    return out, vectors


@dataclasses.dataclass
class Rig:
    """Stages on fake models, the fake models (to count and inspect their runs) and, once opened, the pipeline."""

    stages: dict
    pose_detection: FakeBackend
    landmarks: FakeBackend
    detector: FakeBackend
    embedder: FakeBackend | None = None
    colours: ColourEmbedder | None = None
    pipeline: LookPipeline | None = None

    @property
    def backends(self) -> list[FakeBackend]:
        found = [self.pose_detection, self.landmarks, self.detector, self.embedder]
        return [backend for backend in found if backend is not None]

    def open(self, options: LookOptions | None = None) -> LookPipeline:
        """The ``LookPipeline`` running these stages (it owns them from here on)."""
        self.pipeline = LookPipeline(options or LookOptions(), **self.stages)
        return self.pipeline


def make_rig(
    variants: dict[str, ModelManifest],
    *,
    person: ScriptedPose | None = None,
    nobody: bool = False,
    patches: Sequence[Patch] = (),
    detections: Respond | dict[str, np.ndarray] | None = None,
    detector_outputs_spec: list[TensorSpec] | None = None,
    catalog: Path | None = None,
    vectors: dict[tuple[int, int, int], np.ndarray] | None = None,
    embedder_variant: ModelManifest | None = None,
    embedder_inputs: list[TensorSpec] | None = None,
    embedder_outputs: list[TensorSpec] | None = None,
    mirror_average: bool = False,
    options: LookOptions | None = None,
    open_pipeline: bool = True,
) -> Rig:
    """Fake models in a ``LookPipeline``: ``person`` stands in a WIDTH x HEIGHT photo (``nobody``: no one is
    found), the detector finds the painted ``patches`` (or answers ``detections``), and with a ``catalog``
    the embedder maps each crop's colour to ``vectors``."""
    person = person or standing_person(WIDTH, HEIGHT)
    detection = FakeBackend(
        variants["pose_detection"],
        pose_detection_outputs((WIDTH, HEIGHT), person.start, person.end, score_logit=-10.0 if nobody else 10.0),
    )
    landmarks = FakeBackend(variants["pose_landmarks"], LandmarkResponder(person))
    pose = PoseEstimator(
        PoseDetector(variants["pose_detection"], loaded_backend=detection),
        PoseLandmarker(variants["pose_landmarks"], loaded_backend=landmarks, mirror_average=mirror_average),
    )
    detector_manifest = variants["detector"]
    respond = detections if detections is not None else PatchDetector(patches, detector_manifest.input)
    detector = FakeBackend(detector_manifest, respond, outputs=detector_outputs_spec)
    stages = {"pose": pose, "detector": ArticleDetector(detector_manifest, loaded_backend=detector)}
    rig = Rig(stages, detection, landmarks, detector)
    if catalog is not None:
        manifest = embedder_variant or variants["embedder"]
        rig.colours = ColourEmbedder(manifest.input, vectors)
        rig.embedder = FakeBackend(manifest, rig.colours, inputs=embedder_inputs, outputs=embedder_outputs)
        stages["embedder"] = ArticleEmbedder(manifest, loaded_backend=rig.embedder)
        stages["catalog"] = Catalog(catalog)
    if open_pipeline:
        rig.open(options)
    return rig


def photo(patches: Sequence[Patch] = ()) -> np.ndarray:
    """A black WIDTH x HEIGHT photo with ``patches`` painted on it."""
    return paint(np.zeros((HEIGHT, WIDTH, 3), np.uint8), patches)


def with_feet(person: ScriptedPose, *, visibility: float | None = None, y: float | None = None) -> ScriptedPose:
    """``person`` with the six foot landmarks made (un)seen or moved to height ``y``."""
    xy, seen = person.xy.copy(), person.visibility_logit.copy()
    if visibility is not None:
        seen[FEET] = visibility
    if y is not None:
        xy[FEET, 1] = y + np.arange(len(FEET))
    return dataclasses.replace(person, xy=xy, visibility_logit=seen)


def look_of(rig: Rig, image: np.ndarray) -> Look:
    with rig.pipeline:
        return rig.pipeline(image)


# ---- the gate ---------------------------------------------------------------------------------------


def test_a_full_shot_passes_the_gate_and_reports_facing_and_landmarks(variants):
    patches = [Patch((200, 250, 280, 330), COLOURS[0], "top")]
    rig = make_rig(variants, patches=patches)
    look = look_of(rig, photo(patches))
    assert (look.shot, look.facing, look.stopped) == ("full_shot", "front", None)
    assert look.reasons[:3] == ["head in frame", "left foot in frame", "right foot in frame"]
    assert "seen from the front" in look.reasons[3]
    np.testing.assert_allclose(look.keypoints[:, :2], standing_person(WIDTH, HEIGHT).xy, atol=1e-3)
    assert len(rig.detector.calls) == 1 and [a.category for a in look.articles] == ["top"]


def test_hidden_feet_stop_the_look_before_the_detector_with_the_reason(variants):
    rig = make_rig(variants, person=with_feet(standing_person(WIDTH, HEIGHT), visibility=-5.0))
    look = look_of(rig, photo())
    assert look.shot == "upper_body" and look.facing == "front"
    assert "left foot out of frame (hidden)" in look.reasons and "right foot out of frame (hidden)" in look.reasons
    assert look.stopped == "a foot is hidden or out of frame: stand with both feet visible"
    assert look.articles == [] and rig.detector.calls == []
    assert look.timings_ms["detect"] == 0.0 and look.person_box is not None


def test_feet_below_the_bottom_edge_ask_the_person_to_step_back(variants):
    rig = make_rig(variants, person=with_feet(standing_person(WIDTH, HEIGHT), y=HEIGHT + 20))
    look = look_of(rig, photo())
    assert look.shot == "upper_body"
    assert "left foot out of frame (below the bottom edge)" in look.reasons
    assert look.stopped.startswith("the feet are out of frame: step back")
    assert rig.detector.calls == []


def test_a_wider_gate_lets_an_upper_body_shot_through(variants):
    patches = [Patch((200, 250, 280, 330), COLOURS[0], "top")]
    rig = make_rig(
        variants,
        person=with_feet(standing_person(WIDTH, HEIGHT), visibility=-5.0),
        patches=patches,
        options=LookOptions(gate=("full_shot", "upper_body")),
    )
    look = look_of(rig, photo(patches))
    assert look.shot == "upper_body" and look.stopped is None
    assert [a.category for a in look.articles] == ["top"]


def test_a_person_seen_from_behind_is_a_full_shot_facing_back(variants):
    front = standing_person(WIDTH, HEIGHT)
    xy = front.xy.copy()
    xy[:, 0] = WIDTH - xy[:, 0]  # the person's left side now on the photo's left
    rig = make_rig(variants, person=dataclasses.replace(front, xy=xy))
    look = look_of(rig, photo())
    assert (look.shot, look.facing, look.stopped) == ("full_shot", "back", None)
    assert len(rig.detector.calls) == 1


def test_nobody_found_stops_with_advice_and_runs_nothing_else(variants):
    rig = make_rig(variants, nobody=True)
    look = look_of(rig, photo())
    assert look.shot == "no_person" and look.facing is None
    assert look.stopped.startswith("no person was found")
    assert look.person_box is None and look.keypoints is None
    assert rig.landmarks.calls == [] and rig.detector.calls == []


def test_a_low_pose_flag_is_nobody(variants):
    rig = make_rig(variants, person=dataclasses.replace(standing_person(WIDTH, HEIGHT), pose_flag=0.2))
    look = look_of(rig, photo())
    assert look.shot == "no_person" and look.person_box is None
    assert len(rig.landmarks.calls) == 1 and rig.detector.calls == []


def test_the_mirror_pass_reads_the_flipped_crop_and_maps_it_back(variants):
    person = standing_person(WIDTH, HEIGHT)
    seen = person.visibility_logit.copy()
    seen[[27, 28]] = [-1.0, 3.0]  # left and right ankles differ: a wrong swap would show
    person = dataclasses.replace(person, visibility_logit=seen)
    rig = make_rig(variants, person=person, mirror_average=True)
    look = look_of(rig, photo())
    first, mirrored = (call["input_1"] for call in rig.landmarks.calls)
    np.testing.assert_array_equal(mirrored, np.flip(first, axis=2))
    np.testing.assert_allclose(look.keypoints[:, :2], person.xy, atol=1e-3)
    np.testing.assert_allclose(look.keypoints[:, 2], 1.0 / (1.0 + np.exp(-seen)), atol=1e-6)


# ---- crops: boxes back in photo pixels ----------------------------------------------------------------


def test_found_boxes_map_back_to_their_painted_regions(variants, catalog_dir):
    patches = [
        Patch((200, 250, 280, 330), COLOURS[0], "top"),
        Patch((110, 480, 170, 560), COLOURS[5], "footwear"),
        Patch((300, 60, 380, 100), COLOURS[9], "hat"),
    ]
    rig = make_rig(variants, patches=patches, catalog=catalog_dir[0])
    look = look_of(rig, photo(patches))
    boxes = {a.category: a.box for a in look.articles}
    assert sorted(boxes) == ["footwear", "hat", "top"]
    for patch in patches:  # within a photo pixel (one detector input pixel is about 1.7 here)
        np.testing.assert_allclose(boxes[patch.label], patch.box, atol=1.0)
    assert sorted(rig.colours.seen) == sorted(p.colour for p in patches)  # each crop holds its own article


def test_boxes_past_the_person_crop_are_clipped_to_the_photo(variants):
    rows = [(0, 0, 192, 384, "dress", 0.9), (-150, 100, 20, 150, "bag", 0.8)]  # input pixels
    rig = make_rig(variants, detections=detector_outputs(rows))
    look = look_of(rig, photo())
    # The person crop: 8% of the person box's height on every side, grown to the input's 1:2 aspect, its
    # corner and height then snapped to the 4-pixel grid.
    x0, y0, x1, y1 = (float(v) for v in look.person_box)
    pad = 0.08 * (y1 - y0)
    height = y1 - y0 + 2 * pad
    width = max(x1 - x0 + 2 * pad, height / 2)
    left, top = (x0 + x1 - width) / 2, (y0 + y1 - height) / 2
    left, top, height = round(left / 4) * 4, round(top / 4) * 4, round(height / 4) * 4
    width = height / 2
    scale = width / 192
    assert top <= 0 and top + height > HEIGHT  # the crop runs past the photo's bottom (and reaches its top)
    boxes = {a.category: a.box for a in look.articles}
    np.testing.assert_allclose(boxes["dress"], [left, 0, left + width, HEIGHT], atol=1e-3)
    np.testing.assert_allclose(boxes["bag"], [0, top + 100 * scale, left + 20 * scale, top + 150 * scale], atol=1e-3)


def test_only_the_best_max_articles_are_kept_best_first(variants):
    grid = [(20 + 34 * (i % 5), 10 + 70 * (i // 5)) for i in range(25)]  # 25 tops that do not overlap
    rows = [(x, y, x + 30, y + 50, "top", 0.3 + i * 0.025) for i, (x, y) in enumerate(grid)]
    rig = make_rig(variants, detections=detector_outputs(rows), options=LookOptions(max_articles=20))
    look = look_of(rig, photo())
    scores = [a.score for a in look.articles]
    np.testing.assert_allclose(scores, [0.3 + i * 0.025 for i in range(24, 4, -1)], atol=1e-6)


def test_detections_under_the_shown_threshold_come_back_only_when_asked(variants):
    rows = [(40, 40, 120, 160, "top", 0.9), (40, 200, 120, 300, "pants", 0.2)]  # pants under 0.25
    shown = look_of(make_rig(variants, detections=detector_outputs(rows)), photo())
    assert [(a.category, a.shown) for a in shown.articles] == [("top", True)]
    every = make_rig(variants, detections=detector_outputs(rows), options=LookOptions(all_detections=True))
    assert [(a.category, a.shown) for a in look_of(every, photo()).articles] == [("top", True), ("pants", False)]


# ---- batching and per-category search ---------------------------------------------------------------


def grid_patches(count: int) -> list[Patch]:
    """``count`` painted articles in a grid over the person, cycling through the catalog's categories."""
    return [
        Patch(
            (110 + 100 * (i % 3), 40 + 90 * (i // 3), 170 + 100 * (i % 3), 100 + 90 * (i // 3)),
            COLOURS[i],
            CATALOG_CATEGORIES[i % len(CATALOG_CATEGORIES)],
        )
        for i in range(count)
    ]


def own_product(patch: Patch, index: int) -> str:
    return f"{patch.label}-{index % PER_CATEGORY}"


@pytest.mark.parametrize(
    ("batch", "runs"),
    [(-1, [16, 2]), (4, [4, 4, 4, 4, 4])],
    ids=["dynamic batch: 16 a run", "fixed batch 4: padded"],
)
def test_articles_are_embedded_in_batches_and_stay_with_their_vectors(variants, catalog_dir, batch, runs):
    catalog, vectors = catalog_dir
    patches = grid_patches(18)
    by_colour = {p.colour: vectors[own_product(p, i)] for i, p in enumerate(patches)}
    rig = make_rig(
        variants,
        patches=patches,
        catalog=catalog,
        vectors=by_colour,
        embedder_inputs=[TensorSpec("image", (batch, 3, 192, 192), np.dtype(np.float32))],
        embedder_outputs=[TensorSpec("embedding", (batch, EMBEDDER_DIMS), np.dtype(np.float32))],
        options=LookOptions(top_k=2, colour_weight=0.0),
    )
    look = look_of(rig, photo(patches))
    assert rig.embedder.batch_sizes == runs
    assert len(look.articles) == 18
    want = {p.colour: own_product(p, i) for i, p in enumerate(patches)}
    by_box = {tuple(np.round(a.box / 10)): a for a in look.articles}
    for patch in patches:
        article = by_box[tuple(np.round(np.asarray(patch.box, np.float32) / 10))]
        assert article.category == patch.label
        assert article.matches[0].id == want[patch.colour] and article.matches[0].score == pytest.approx(1.0)


@pytest.mark.parametrize("colour_weight", [0.0, None], ids=["cosine only", "catalog's colour re-rank"])
def test_each_article_is_matched_within_its_own_category_only(variants, catalog_dir, colour_weight):
    catalog, vectors = catalog_dir
    patches = [
        Patch((200, 250, 280, 330), COLOURS[0], "top"),
        Patch((200, 380, 280, 460), COLOURS[1], "pants"),
        Patch((130, 520, 190, 580), COLOURS[2], "footwear"),
        Patch((320, 300, 370, 350), COLOURS[3], "bag"),  # the catalog sells no bags
    ]
    # The top is embedded exactly as a pair of pants: only a search within tops keeps it from matching it.
    by_colour = {COLOURS[0]: vectors["pants-0"], COLOURS[1]: vectors["pants-1"], COLOURS[2]: vectors["footwear-2"]}
    rig = make_rig(
        variants,
        patches=patches,
        catalog=catalog,
        vectors=by_colour,
        options=LookOptions(top_k=3, colour_weight=colour_weight),
    )
    look = look_of(rig, photo(patches))
    articles = {a.category: a for a in look.articles}
    assert sorted(articles) == ["bag", "footwear", "pants", "top"]
    for category in ("top", "pants", "footwear"):
        assert len(articles[category].matches) == 3
        assert {m.category for m in articles[category].matches} == {category}
    assert "pants-0" not in [m.id for m in articles["top"].matches]
    if colour_weight == 0.0:
        assert articles["pants"].matches[0].id == "pants-1"
        assert articles["footwear"].matches[0].id == "footwear-2"
    assert not articles["bag"].matches and articles["bag"].note == "the catalog has no bag products"
    assert rig.embedder.batch_sizes == [3] and COLOURS[3] not in rig.colours.seen  # the bag is not embedded


def test_a_filter_holds_for_every_article_a_call_may_change_it_and_an_empty_one_says_why(variants, catalog_dir):
    catalog, vectors = catalog_dir
    patches = [Patch((200, 250, 280, 330), COLOURS[0], "top"), Patch((200, 380, 280, 460), COLOURS[1], "pants")]
    by_colour = {COLOURS[0]: vectors["top-0"], COLOURS[1]: vectors["pants-1"]}
    options = LookOptions(top_k=3, colour_weight=0.0, where={"gender": ("men",)})
    rig = make_rig(variants, patches=patches, catalog=catalog, vectors=by_colour, options=options)
    with rig.pipeline as pipeline:
        men = {a.category: a for a in pipeline(photo(patches)).articles}
        women = {a.category: a for a in pipeline(photo(patches), where={"gender": ("Women",)}).articles}
        nobody = pipeline(photo(patches), where={"gender": ("Girls",)}).articles
        anyone = {a.category: a for a in pipeline(photo(patches), where={"gender": ("*",)}).articles}
    assert sorted(men["top"].matches.ids) == ["top-1", "top-3"] and men["pants"].matches.ids[0] == "pants-1"
    assert sorted(women["top"].matches.ids) == ["top-0", "top-2"] and women["top"].matches.ids[0] == "top-0"
    assert [(len(a.matches), a.note) for a in nobody] == [
        (0, f"no {a.category} products in the catalog with gender=Girls") for a in nobody
    ]
    assert len(anyone["top"].matches) == 3 and anyone["top"].matches.ids[0] == "top-0"


def test_a_filter_on_a_column_the_catalog_lacks_stops_the_pipeline_at_load(variants, catalog_dir):
    rig = make_rig(variants, catalog=catalog_dir[0], open_pipeline=False)
    with pytest.raises(CatalogFilterError, match="no attribute column 'size'.*: gender"):
        rig.open(LookOptions(where={"size": ("M",)}))


def test_no_article_the_catalog_sells_means_no_embedder_run(variants, catalog_dir):
    patches = [Patch((320, 300, 370, 350), COLOURS[3], "bag")]
    rig = make_rig(variants, patches=patches, catalog=catalog_dir[0])
    look = look_of(rig, photo(patches))
    assert [a.note for a in look.articles] == ["the catalog has no bag products"]
    assert rig.embedder.calls == [] and look.timings_ms["embed"] == 0.0


# ---- errors -------------------------------------------------------------------------------------------


def test_a_detector_output_of_another_layout_is_an_input_spec_error(variants):
    six_classes = [TensorSpec("output0", (1, 10, 1512), np.dtype(np.float32))]
    rig = make_rig(variants, detections={"output0": np.zeros((1, 10, 1512))}, detector_outputs_spec=six_classes)
    with pytest.raises(InputSpecError, match="not YOLO layout"):
        look_of(rig, photo())


def test_a_model_without_an_output_the_manifest_names_is_refused(variants):
    manifest = variants["pose_landmarks"]
    outputs = [s for s in VARIANTS["pose_landmarks"]["tensors"][1] if s.name != "Identity_3"]
    backend = FakeBackend(manifest, {}, outputs=outputs)
    with pytest.raises(ManifestError, match="heatmap"):
        PoseLandmarker(manifest, loaded_backend=backend)
    assert backend.closed  # the stage never came to be: it closed what it had opened


def test_a_manifest_of_another_task_is_refused(variants):
    backend = FakeBackend(variants["embedder"], {})
    with pytest.raises(ManifestError, match="is a embedder model, not detector"):
        ArticleDetector(variants["embedder"], loaded_backend=backend)


def test_an_embedder_reading_another_input_size_is_an_input_spec_error(variants, catalog_dir):
    patches = [Patch((200, 250, 280, 330), COLOURS[0], "top")]
    wide = [TensorSpec("image", (-1, 3, 224, 224), np.dtype(np.float32))]
    rig = make_rig(variants, patches=patches, catalog=catalog_dir[0], embedder_inputs=wide)
    with pytest.raises(InputSpecError, match="must have shape"):
        look_of(rig, photo(patches))


def test_vectors_of_another_length_than_the_catalogs_are_a_catalog_error(variants, catalog_dir):
    patches = [Patch((200, 250, 280, 330), COLOURS[0], "top")]
    short = [TensorSpec("embedding", (-1, 128), np.dtype(np.float32))]
    vectors = {COLOURS[0]: unit(np.ones(128))}
    rig = make_rig(variants, patches=patches, catalog=catalog_dir[0], vectors=vectors, embedder_outputs=short)
    with pytest.raises(CatalogError, match="query vectors have 128 dims"):
        look_of(rig, photo(patches))


def test_a_failing_run_propagates_and_the_pipeline_serves_the_next_photo(variants):
    answers = iter([RuntimeError("the runtime failed"), detector_outputs([(40, 40, 120, 160, "top", 0.9)])])

    def flaky(feeds):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    rig = make_rig(variants, detections=flaky)
    with rig.pipeline:
        with pytest.raises(RuntimeError, match="the runtime failed"):
            rig.pipeline(photo())
        assert [a.category for a in rig.pipeline(photo()).articles] == ["top"]


def test_an_embedder_that_did_not_build_the_catalog_is_refused_and_every_stage_closed(variants, catalog_dir, tmp_path):
    other = write_fake_variant(tmp_path, "embedder", name="another_embedder")
    rig = make_rig(variants, catalog=catalog_dir[0], embedder_variant=other, open_pipeline=False)
    with pytest.raises(CatalogEmbedderMismatchError, match="another_embedder"):
        rig.open()
    assert all(backend.closed for backend in rig.backends)


def test_closing_the_pipeline_closes_the_stages_it_was_given(variants, catalog_dir):
    rig = make_rig(variants, catalog=catalog_dir[0])
    rig.pipeline.close()
    assert all(backend.closed for backend in rig.backends)
    assert rig.pipeline.catalog.shards == {}


def test_given_stages_are_closed_when_the_options_name_a_second_catalog(variants, catalog_dir):
    rig = make_rig(variants, catalog=catalog_dir[0], open_pipeline=False)
    with pytest.raises(ValueError, match="not both"):
        rig.open(LookOptions(catalog=catalog_dir[0]))
    assert all(backend.closed for backend in rig.backends)


def test_an_embedder_without_its_catalog_is_refused(variants, catalog_dir):
    rig = make_rig(variants, catalog=catalog_dir[0], open_pipeline=False)
    rig.stages["catalog"].close()
    del rig.stages["catalog"]
    with pytest.raises(ValueError, match="only with the opened catalog"):
        rig.open()
    assert all(backend.closed for backend in rig.backends)


def test_a_pose_detector_with_another_anchor_count_is_refused_at_load(variants):
    """The decoder reads one box per anchor: a model with other anchors would be misread, not just fail."""
    outputs = [
        TensorSpec("Identity", (1, 896, 12), np.dtype(np.float32)),
        TensorSpec("Identity_1", (1, 896, 1), np.dtype(np.float32)),
    ]
    backend = FakeBackend(variants["pose_detection"], {}, outputs=outputs)
    with pytest.raises(ManifestError, match=r"output 'boxes' has shape \(1, 896, 12\)"):
        PoseDetector(variants["pose_detection"], loaded_backend=backend)
    assert backend.closed


def test_a_landmark_model_with_fewer_landmarks_than_the_manifest_reads_is_refused(variants):
    outputs = [s for s in VARIANTS["pose_landmarks"]["tensors"][1] if s.name != "Identity"]
    outputs.append(TensorSpec("Identity", (1, 25 * 5), np.dtype(np.float32)))
    backend = FakeBackend(variants["pose_landmarks"], {}, outputs=outputs)
    with pytest.raises(ManifestError, match="reads at least 165"):
        PoseLandmarker(variants["pose_landmarks"], loaded_backend=backend)
    assert backend.closed


def test_an_embedder_that_gives_one_vector_for_a_batch_is_refused(variants):
    one_row = [TensorSpec("embedding", (1, EMBEDDER_DIMS), np.dtype(np.float32))]
    backend = FakeBackend(variants["embedder"], {"embedding": np.ones((1, EMBEDDER_DIMS), np.float32)}, outputs=one_row)
    crops = [np.full((40, 30, 3), 90 + 10 * i, np.uint8) for i in range(4)]
    with ArticleEmbedder(variants["embedder"], loaded_backend=backend) as embedder:
        with pytest.raises(ManifestError, match="4 crops in, 1 vectors out"):
            embedder.embed(crops)
