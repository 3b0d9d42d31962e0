"""``LookPipeline``: one photo in, every article of the look out with its catalog matches.

decode -> pose (person box, 33 landmarks) -> pose classification -> gate -> article detector on
the person crop -> crops -> batched embedding -> per-category catalog search. Models load once;
one pipeline serves many photos.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_bml.catalog.attributes import Where, combine, where_text
from edge_bml.catalog.search import Catalog
from edge_bml.errors import EdgeBmlError
from edge_bml.image_io import decode_image, read_image
from edge_bml.look import Article, Look
from edge_bml.model_registry import VariantChoice
from edge_bml.runtime_choice import RuntimeChoice
from edge_bml.stages.article_views import article_view, optional_parser
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.embedder import ArticleEmbedder
from edge_bml.stages.pose import PoseEstimator, PoseOptions
from edge_bml.stages.pose_classifier import PoseClass, PoseClassifier, PoseClassifierOptions
from edge_bml.timing import StageTimer

STAGES = (
    "decode",
    "pose_detect",
    "pose_landmarks",
    "pose_classify",
    "detect",
    "parse",
    "crops",
    "embed",
    "search",
    "total",
)


StageChoice = RuntimeChoice  # a per-stage override: None fields fall back to the look's choice


@dataclass(frozen=True)
class LookOptions:
    """How a ``LookPipeline`` runs.

    catalog: a built catalog folder; without one, articles come back without matches.
    trust: open the catalog without hashing its files (their sizes are still checked; ``--trust``).
    colour_weight: how much the worn colour counts in the ranking (None: the catalog's default; 0: not at all).
    parser: with a catalog, also parse the person's garments (where a parser variant is installed), so each
        article's colour comes from its own pixels and its crop is masked for embedders that want it. Off by
        default: it improves the look-alike colour ratio (0.402 -> 0.371 on CCP val) for about 12 ms a look.
    gate: the shot types that go on past pose classification (default: full shots only).
    all_detections: also return the articles under their category's shown threshold (and those demoted as
        contradicting a better one), marked ``shown=False``; off by default, as shoppers see the look.
    stages: per-stage overrides keyed ``pose``, ``detector``, ``embedder``.
    where: an attribute filter on the catalog's products (column -> values; AND across columns, OR within
        one), over the catalog's own default filter column by column (``*``: any value).
    """

    catalog: Path | None = None
    trust: bool = False
    top_k: int = 5
    backend: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    stages: dict[str, RuntimeChoice] = field(default_factory=dict)
    gate: tuple[str, ...] = ("full_shot",)
    mirror_average: bool = True
    classifier: PoseClassifierOptions = field(default_factory=PoseClassifierOptions)
    max_articles: int = 20
    colour_weight: float | None = None
    parser: bool = False
    all_detections: bool = False
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def runtime(self) -> RuntimeChoice:
        """The look's own runtime choice, which every stage inherits."""
        return RuntimeChoice(self.backend, self.precision, self.threads)

    def choice(self, stage: str) -> RuntimeChoice:
        """The runtime choice of ``stage`` (``pose``, ``detector``, ``parser``, ``embedder``): its override
        over the look's choice."""
        return self.stages.get(stage, RuntimeChoice()).over(self.runtime)


def advice(decision: PoseClass) -> str:
    """What to tell the person in front of the camera when the photo cannot be used."""
    text = " ".join(decision.reasons)
    if decision.shot == "no_person":
        return "no person was found: stand in front of the camera with your whole body in view"
    if "foot out of frame (below the bottom edge)" in text:
        return "the feet are out of frame: step back so that you are in the photo from head to feet"
    if "head out of frame" in text:
        return "the head is out of frame: step back or lower the camera so your head is in the photo"
    if "foot out of frame" in text:
        return "a foot is hidden or out of frame: stand with both feet visible"
    return f"the photo is a {decision.shot.replace('_', ' ')}, not a full shot: show your whole body"


class LookPipeline:
    """Loads every model once; call it with a photo (path, bytes or RGB array) to get a ``Look``."""

    def __init__(
        self,
        options: LookOptions | None = None,
        *,
        pose: PoseEstimator | None = None,
        detector: ArticleDetector | None = None,
        catalog: Catalog | None = None,
        embedder: ArticleEmbedder | None = None,
    ) -> None:
        """Load the pose models, the detector, and (with a catalog) the catalog and its embedder.

        ``pose``, ``detector``, ``catalog`` (an open catalog, instead of ``options.catalog``) and ``embedder``
        (the catalog's, checked against it) are used as given instead of loaded; the options' runtime choices
        and ``mirror_average`` do not apply to them (tests give stages that run a fake backend). The pipeline
        closes them with itself, also when it fails to load.

        Raises:
            ModelNotFoundError, BackendUnavailableError, ChecksumMismatchError: a model cannot be loaded.
            CatalogError: the catalog cannot be opened; CatalogEmbedderMismatchError: its embedder differs;
                CatalogFilterError: ``options.where`` names a column the catalog does not have.
            ValueError: both ``catalog`` and ``options.catalog``, or an ``embedder`` without a catalog.
        """
        from edge_bml.stages.catalog_embedder import open_catalog_embedder

        self.options = options = options or LookOptions()
        self._closers = [stage.close for stage in (pose, detector, catalog, embedder) if stage is not None]
        try:
            if catalog is not None and options.catalog is not None:
                raise ValueError("give a catalog either in the options or opened, not both")
            if embedder is not None and catalog is None:
                raise ValueError("an embedder is given only with the opened catalog it belongs to")
            if pose is None:
                query = options.choice("pose").variant_query
                pose = PoseEstimator.create_from_options(PoseOptions(**query, mirror_average=options.mirror_average))
                self._closers.append(pose.close)
            self.pose = pose
            self.classifier = PoseClassifier(options.classifier)
            if detector is None:
                detector = ArticleDetector.create_from_choice(options.choice("detector"))
                self._closers.append(detector.close)
            self.detector = detector
            self.catalog = self.embedder = self.parser = None
            searching = catalog is not None or options.catalog is not None
            if searching and options.parser:
                self.parser = optional_parser(options.choice("parser"))
                if self.parser is not None:
                    self._closers.append(self.parser.close)
            if searching:
                if catalog is None:
                    catalog = Catalog(options.catalog, trust=options.trust)
                    self._closers.append(catalog.close)
                self.catalog = catalog
                catalog.resolve_where(options.where)  # a column the catalog lacks fails here, not at a look
                if embedder is None:
                    embedder = open_catalog_embedder(catalog, threads=options.choice("embedder").threads)
                    self._closers.append(embedder.close)
                else:
                    catalog.check_embedder(embedder)
                self.embedder = embedder
        except BaseException:
            self.close()
            raise

    @property
    def models(self) -> dict[str, str]:
        """The variant each stage runs."""
        return {task: choice.manifest.name for task, choice in self.choices.items()}

    @property
    def choices(self) -> dict[str, VariantChoice]:
        """The variant each stage runs and why it was chosen."""
        stages = {
            "pose_detection": self.pose.detector,
            "pose_landmarks": self.pose.landmarker,
            "detector": self.detector,
        }
        choices = {task: stage.choice for task, stage in stages.items()}
        if self.parser is not None:
            choices["parser"] = self.parser.choice
        if self.embedder is not None:
            choices["embedder"] = VariantChoice(
                self.embedder.manifest, "catalog", "the embedder that built the catalog (its vectors are comparable)"
            )
        return choices

    def __call__(
        self,
        photo: str | Path | bytes | np.ndarray,
        *,
        file: str | None = None,
        timer: StageTimer | None = None,
        where: Where | None = None,
    ) -> Look:
        """The look of one photo: an RGB uint8 array, encoded image bytes, or a path.

        Pass ``timer`` when the caller decoded the photo itself and timed that as ``decode``. ``where``
        (one request's attribute filter) goes over the options' filter column by column.

        Raises:
            ImageError: the photo cannot be decoded (or is too large).
            CatalogFilterError: ``where`` names a column the catalog does not have.
        """
        where = combine(self.options.where, where, drop_any=False)
        if self.catalog is not None:
            self.catalog.resolve_where(where)
        timer = timer or StageTimer()
        with timer.stage("decode"):
            if isinstance(photo, np.ndarray):
                image = photo
            elif isinstance(photo, bytes):
                image = decode_image(photo, name=file or "<upload>")
            else:
                image = read_image(photo)
                file = file or str(photo)
        pose = self.pose(image, timer=timer)
        with timer.stage("pose_classify"):
            decision = self.classifier(pose.main, pose.image_size)
        person = pose.main
        person_box = keypoints = None
        if person is not None:
            width, height = pose.image_size
            person_box = np.clip(person.person_box, 0, [width, height, width, height]).astype(np.float32)
            keypoints = np.hstack([person.keypoints[:, :2], person.visibility[:, None]])
        look = dict(
            shot=decision.shot,
            facing=decision.facing,
            reasons=decision.reasons,
            file=file,
            person_box=person_box,
            keypoints=keypoints,
        )
        if decision.shot not in self.options.gate or person is None:
            return Look(**look, articles=[], timings_ms=self._timings(timer), stopped=advice(decision))
        with timer.stage("detect"):
            found = self.detector(image, person.person_box, all_detections=self.options.all_detections)
            order = np.argsort(-found.confidence)[: self.options.max_articles]
            found = found[order]
            shown = self.detector.shown(found)
        parse = None
        if self.parser is not None and len(found):
            with timer.stage("parse"):
                parse = self.parser(image, person.person_box)
        articles = self._match(image, found, shown, parse, timer, where)
        return Look(**look, articles=articles, timings_ms=self._timings(timer))

    def _match(self, image: np.ndarray, found, shown: np.ndarray, parse, timer: StageTimer, where) -> list[Article]:
        fill = self.embedder is not None and bool(self.embedder.manifest.decoder.get("foreground_fill", False))
        labels = found.names
        views = {}
        with timer.stage("crops"):  # each article's crop, garment mask and colour
            for i, box in enumerate(found.xyxy):
                view = article_view(image, box, labels[i], parse=parse, fill=fill)
                if view is not None:
                    views[i] = view
        articles = {
            i: Article(
                labels[i],
                found.xyxy[i],
                float(found.confidence[i]),
                colour=views[i].colour if i in views else None,
                shown=bool(shown[i]),
            )
            for i in range(len(found))
        }
        if self.catalog is None:
            return [articles[i] for i in range(len(found))]
        for i in range(len(found)):  # nothing to match: not embedded at all (bags in a clothing catalog)
            if labels[i] not in self.catalog.shards:
                articles[i] = dataclasses.replace(articles[i], note=f"the catalog has no {labels[i]} products")
        kept = [i for i in views if labels[i] in self.catalog.shards]
        if not kept:
            return [articles[i] for i in range(len(found))]
        with timer.stage("embed"):
            vectors = self.embedder.embed([views[i].crop for i in kept])
        with timer.stage("search"):
            for row, i in enumerate(kept):
                article = articles[i]
                matches = self.catalog.search(
                    vectors[row],
                    category=article.category,
                    k=self.options.top_k,
                    colour=article.colour,
                    colour_weight=self.options.colour_weight,
                    where=where,
                )
                note = article.note
                if not len(matches) and self.catalog.passing_count(where, article.category) == 0:
                    filtered = where_text(self.catalog.resolve_where(where))
                    note = f"no {article.category} products in the catalog with {filtered}"
                articles[i] = dataclasses.replace(article, matches=matches, note=note)
        return [articles[i] for i in range(len(found))]

    @staticmethod
    def _timings(timer: StageTimer) -> dict[str, float]:
        measured = timer.as_dict()
        return {stage: measured.get(stage, 0.0) for stage in STAGES}

    def use_catalog(self, catalog: Catalog) -> None:
        """Search ``catalog`` from the next look on (an open catalog, possibly shared, that this pipeline
        does not close; a server's reload). A catalog this pipeline opened itself is closed here, so its
        memory-mapped files, already replaced on disk, are let go. The embedder stays: ``catalog`` must be
        this embedder's (``Catalog.check_embedder``)."""
        old = self.catalog
        if old is not None and old.close in self._closers:
            self._closers.remove(old.close)
            old.close()
        self.catalog = catalog

    def close(self) -> None:
        """Release every model and the catalog."""
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except EdgeBmlError:
                pass

    def __enter__(self) -> LookPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
