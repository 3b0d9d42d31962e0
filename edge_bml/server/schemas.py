"""The API's request and response shapes, as pydantic models: they make the OpenAPI document that
mobile teams generate clients from (``/openapi.json``, ``/docs``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Colour(BaseModel):
    hex: str = Field(description="sRGB, e.g. #2b2f3a")
    lab: list[float] = Field(description="CIELAB (D65): L, a, b")


class Match(BaseModel):
    id: str
    score: float = Field(description="similarity used for the ranking (appearance, and colour by the catalog's weight)")
    category: str
    title: str | None = None
    file: str | None = Field(None, description="the product photo, relative to the catalog's image folder")
    attributes: dict[str, str] | None = Field(
        None, description="the product table's other columns (e.g. kids, gender), which `where` filters on"
    )
    image_url: str = Field(description="the product photo on this server: GET it as it is")
    colour: Colour | None = None


class Article(BaseModel):
    category: str = Field(description="top, outerwear, dress, pants, shorts, skirt, footwear, bag, hat, eyewear, ...")
    box: list[float] = Field(description="x0, y0, x1, y1 in photo pixels")
    score: float = Field(description="the detector's confidence")
    shown: bool = Field(description="false only for articles a shopper is not shown (all_detections)")
    colour: Colour | None = Field(None, description="the worn garment's colour")
    note: str | None = Field(None, description="why there are no matches, e.g. the catalog sells no such products")
    matches: list[Match]


class Look(BaseModel):
    file: str | None
    shot: str = Field(description="full_shot, upper_body, lower_body, partial or no_person")
    facing: str | None = Field(description="front, back, left or right")
    reasons: list[str]
    stopped: str | None = Field(description="null when every stage ran; otherwise what the person should do")
    person_box: list[float] | None
    keypoints: list[list[float]] | None = Field(description="33 BlazePose landmarks: x, y (pixels), visibility")
    articles: list[Article]
    timings_ms: dict[str, float] = Field(description="milliseconds per stage, and total")


class Error(BaseModel):
    error: str = Field(description="what went wrong and what to do")


class CatalogSummary(BaseModel):
    embedder: str
    dims: int
    dtype: str
    metric: str
    counts: dict[str, int]
    total: int
    built_at: str
    default_where: dict[str, list[str]] = Field(
        default_factory=dict, description="the filter every look applies unless a request's `where` lifts it"
    )
    attributes: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="attribute columns of at most 50 values, each value with its product count (e.g. a kiosk's "
        "department choice)",
    )


class Health(BaseModel):
    status: str = Field(description="ok once every worker's models and the catalog are loaded")
    workers: int | None = None
    models: dict[str, str] | None = None
    catalog: dict[str, int] | None = None


class Models(BaseModel):
    machine: dict
    models: dict[str, dict]
