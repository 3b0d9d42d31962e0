"""Copy-paste of rare articles onto detector training crops: where they land, what they add, what they may not."""

from __future__ import annotations

import numpy as np
import pytest

from converters.train.detector_copy_paste import Instance, InstanceBank
from converters.train.detector_dataset import CATEGORIES

SKIRT, SHORTS, PANTS, SCARF = (CATEGORIES.index(c) for c in ("skirt", "shorts", "pants", "scarf"))


def _instance(label: int, relative_box) -> Instance:
    rgb = np.full((20, 10, 3), (250, 0, 0), np.uint8)
    alpha = np.zeros((20, 10), np.float32)
    alpha[:, 3:7] = 1.0  # only the middle columns are the article
    return Instance(label=label, rgb=rgb, alpha=alpha, relative_box=np.asarray(relative_box, np.float32))


def test_an_instance_lands_where_it_sat_on_its_wearer_and_only_its_mask_is_pasted():
    bank = InstanceBank([_instance(SCARF, (0.25, 0.1, 0.75, 0.3))], labels=CATEGORIES)
    image = np.zeros((384, 192, 3), np.uint8)
    person = np.array([20, 40, 180, 360], np.float32)  # 160 x 320
    boxes, labels = np.array([[30, 200, 170, 350]], np.float32), np.array([PANTS])
    rng = np.random.default_rng(0)
    out, new_boxes, new_labels = bank.paste(image, boxes, labels, person, rng)
    assert new_labels.tolist() == [PANTS, SCARF]
    x0, y0, x1, y1 = new_boxes[-1]
    assert abs(x0 - 60) < 12 and abs(y0 - 72) < 12 and abs(x1 - 140) < 12 and abs(y1 - 136) < 12
    assert np.array_equal(new_boxes[0], boxes[0]) and image.max() == 0  # the input is left as it was
    pasted = out[int(y0) : int(y1), int(x0) : int(x1), 0]
    red_columns = (pasted > 128).mean(axis=0)
    assert red_columns.max() > 0.9 and red_columns.min() < 0.1  # the mask, not the whole box
    assert out[:, :, 1:].max() == 0 and out[: int(y0) - 1].max() == 0


@pytest.mark.parametrize("worn", [SKIRT, SHORTS, PANTS])
def test_no_article_is_pasted_over_one_it_excludes_or_duplicates(worn):
    bank = InstanceBank([_instance(SKIRT, (0.2, 0.5, 0.8, 0.7))], labels=CATEGORIES)
    image = np.zeros((384, 192, 3), np.uint8)
    boxes, labels = np.array([[30, 200, 170, 350]], np.float32), np.array([worn])
    out, new_boxes, new_labels = bank.paste(
        image, boxes, labels, np.array([0, 0, 192, 384.0]), np.random.default_rng(1)
    )
    assert new_labels.tolist() == [worn] and len(new_boxes) == 1 and out is image


def test_an_article_the_photo_has_without_a_box_is_not_pasted_either():
    bank = InstanceBank([_instance(SCARF, (0.25, 0.1, 0.75, 0.3))], labels=CATEGORIES)
    image = np.zeros((384, 192, 3), np.uint8)
    empty = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    _, _, labels = bank.paste(
        image, *empty, np.array([0, 0, 192, 384.0]), np.random.default_rng(2), present=np.array([SCARF])
    )
    assert labels.tolist() == []


def test_the_bank_cuts_rare_articles_out_of_ccp_train_along_their_label_maps(data_dir):
    from converters.train.detector_dataset import load_ccp_records

    records = load_ccp_records(data_dir, split="train")[:60]
    bank = InstanceBank.from_ccp(data_dir, records, labels=CATEGORIES)
    assert len(bank) > 5
    assert {CATEGORIES[i.label] for i in bank.instances} <= {"scarf", "shorts", "hat", "skirt", "belt"}
    for inst in bank.instances:
        assert inst.rgb.shape[:2] == inst.alpha.shape and max(inst.alpha.shape) <= 160
        assert 0.15 <= inst.alpha.mean() <= 1.0  # mostly the article, never an empty cut
        x0, y0, x1, y1 = inst.relative_box
        assert -0.5 < x0 < x1 < 1.5 and -0.1 < y0 < y1 < 1.1
