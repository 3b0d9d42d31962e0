"""The embedder's parts: EfficientNet-Lite0 weights, triplet loss, street views and the runtime stage."""

from __future__ import annotations

import numpy as np
import pytest

from edge_bml.errors import ImageError, ModelLoadError
from edge_bml.evaluation.street_view import street_view
from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.stages.embedder import ArticleEmbedder
from tests.embedder_models import export_small_backbone

torch = pytest.importorskip("torch")

TSHIRT = "clothing/images/ea7b6656-3f84-4eb3-9099-23e623fc1018.jpg"


def test_efficientnet_lite0_weights_classify_a_tshirt_as_jersey(data_dir):
    from converters.train.embedder_batches import to_tensor_input
    from converters.train.torch_models.efficientnet_lite0 import load_efficientnet_lite0

    model = load_efficientnet_lite0()
    x = torch.from_numpy(to_tensor_input([read_image(data_dir / TSHIRT)], 224))
    with torch.no_grad():
        probabilities = model(x).softmax(dim=1)[0]
    assert int(probabilities.argmax()) == 610  # ImageNet "jersey, T-shirt"
    assert float(probabilities[610]) > 0.5


def test_wrong_checkpoint_is_a_typed_error(tmp_path):
    from converters.train.torch_models.efficientnet_lite0 import load_efficientnet_lite0

    bad = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ModelLoadError, match="not an EfficientNet-Lite0"):
        load_efficientnet_lite0(bad)


def test_batch_hard_triplet_is_zero_only_when_negatives_are_far_enough():
    from converters.train.triplet_loss import batch_hard_triplet

    a = torch.tensor([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0], [0.141, 0.99]])
    a = torch.nn.functional.normalize(a, dim=1)
    labels = torch.tensor([0, 0, 1, 1])
    assert float(batch_hard_triplet(a, labels, a, labels, margin=0.2, same_anchor_pool=True)) == 0.0
    swapped = torch.tensor([0, 1, 0, 1])
    assert float(batch_hard_triplet(a, swapped, a, swapped, margin=0.2, same_anchor_pool=True)) > 1.0


def test_street_view_is_seeded_and_square(data_dir):
    photo = read_image(data_dir / TSHIRT)
    background = read_image(data_dir / "ccp" / "tagged" / "1005.jpg")
    first = street_view(photo, rng=np.random.default_rng(3), backgrounds=[background], size=128)
    again = street_view(photo, rng=np.random.default_rng(3), backgrounds=[background], size=128)
    other = street_view(photo, rng=np.random.default_rng(4), backgrounds=[background], size=128)
    assert first.shape == (128, 128, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.fixture(scope="module")
def small_embedder(tmp_path_factory):
    folder = export_small_backbone(tmp_path_factory.mktemp("models") / "embedder_small", 64)
    with ArticleEmbedder(load_manifest(folder), threads=1) as embedder:
        yield embedder


def test_embedder_stage_gives_unit_vectors_and_batching_does_not_change_them(small_embedder, data_dir):
    photo = read_image(data_dir / TSHIRT)
    crops = [photo, photo[:, ::-1], photo[10:200, 20:150]]
    batched = small_embedder.embed(crops, batch_size=3)
    single = np.concatenate([small_embedder.embed([crop]) for crop in crops])
    assert batched.shape == (3, 1280)
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.allclose(batched, single, atol=1e-4)
    assert float(batched[0] @ batched[1]) > float(batched[0] @ -batched[1])


def test_embedder_stage_rejects_an_empty_crop(small_embedder):
    with pytest.raises(ImageError, match="non-empty"):
        small_embedder.embed([np.zeros((0, 5, 3), np.uint8)])
