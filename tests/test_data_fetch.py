"""`edge-bml data fetch` from local copies and from a loopback mirror, checked against shared/data."""

from __future__ import annotations

import csv
import functools
import http.server
import json
import shutil
import threading
import zipfile

import cv2
import numpy as np
import pytest

from edge_bml.cli.main import main
from edge_bml.data_fetch.sources import CCP_COMMIT, CLOTHING_COMMIT

scipy_io = pytest.importorskip("scipy.io")


@pytest.fixture(scope="module")
def raw_copies(data_dir, ccp_annotations, tmp_path_factory):
    """Both repositories' layouts, rebuilt from a few shared/data files (MATLAB label maps and all)."""
    root = tmp_path_factory.mktemp("raw")
    ccp = root / f"clothing-co-parsing-{CCP_COMMIT}"
    for folder in ("photos", "annotations/pixel-level", "annotations/image-level"):
        (ccp / folder).mkdir(parents=True)
    labels = ccp_annotations["labels"]
    scipy_io.savemat(ccp / "label_list.mat", {"label_list": np.array(labels, dtype=object)})
    chosen = [ccp_annotations["images"][i] for i in (0, 1, 5)]
    for image in chosen:
        shutil.copyfile(data_dir / "ccp" / image["file"], ccp / "photos" / f"{image['id']}.jpg")
        label_map = cv2.imread(str(data_dir / "ccp" / image["label_map"]), cv2.IMREAD_UNCHANGED)
        scipy_io.savemat(ccp / "annotations/pixel-level" / f"{image['id']}.mat", {"groundtruth": label_map})
    tagged = json.loads((data_dir / "ccp" / "tags.json").read_text())["images"][:2]
    for entry in tagged:
        photo = cv2.imread(str(data_dir / "ccp" / entry["file"]))
        cv2.imwrite(str(ccp / "photos" / f"{entry['id']}.jpg"), cv2.resize(photo, None, fx=2, fy=2))
        codes = [labels.index(t) for t in entry["tags"]]
        scipy_io.savemat(ccp / "annotations/image-level" / f"{entry['id']}.mat", {"tags": np.array(codes)})
    clothing = root / f"clothing-dataset-{CLOTHING_COMMIT}"
    (clothing / "images").mkdir(parents=True)
    with open(data_dir / "clothing" / "items.csv", newline="") as handle:
        items = list(csv.DictReader(handle))[:4]
    rows = []
    for item in items:
        image = cv2.imread(str(data_dir / "clothing" / item["file"]))
        cv2.imwrite(str(clothing / "images" / f"{item['id']}.jpg"), cv2.resize(image, None, fx=3, fy=3))
        rows.append({"image": item["id"], "sender_id": item["sender_id"], "label": item["label"], "kids": item["kids"]})
    rows.append({"image": "skip-me", "sender_id": "1", "label": "Skip", "kids": "False"})
    rows.append({"image": "missing-photo", "sender_id": "1", "label": "Hat", "kids": "False"})
    with open(clothing / "images.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "sender_id", "label", "kids"])
        writer.writeheader()
        writer.writerows(rows)
    return {"root": root, "chosen": chosen, "tagged": tagged, "items": items}


def _check(out, raw_copies):
    annotations = json.loads((out / "ccp" / "annotations.json").read_text())
    assert [i["id"] for i in annotations["images"]] == [i["id"] for i in raw_copies["chosen"]]
    for mine, theirs in zip(annotations["images"], raw_copies["chosen"]):
        assert mine == {k: v for k, v in theirs.items() if k != "path"}
    tags = json.loads((out / "ccp" / "tags.json").read_text())["images"]
    assert [t["tags"] for t in tags] == [t["tags"] for t in raw_copies["tagged"]]
    assert cv2.imread(str(out / "ccp" / tags[0]["file"])).shape[0] == 480
    with open(out / "clothing" / "items.csv", newline="") as handle:
        items = list(csv.DictReader(handle))
    assert [(i["id"], i["category"], i["label"]) for i in items] == [
        (i["id"], i["category"], i["label"]) for i in raw_copies["items"]
    ]
    assert max(cv2.imread(str(out / "clothing" / items[0]["file"])).shape[:2]) == 256


def test_fetch_from_local_copies_matches_shared_data(raw_copies, tmp_path):
    out = tmp_path / "data"
    assert main(["data", "fetch", "--from", str(raw_copies["root"]), "--out", str(out)]) == 0
    _check(out, raw_copies)
    assert sorted(p.name for p in out.iterdir()) == ["ccp", "clothing"]


def test_fetch_from_a_mirror_on_loopback(raw_copies, tmp_path):
    served = tmp_path / "served"
    for repo, owner, commit in (
        ("clothing-co-parsing", "bearpaw", CCP_COMMIT),
        ("clothing-dataset", "alexeygrigorev", CLOTHING_COMMIT),
    ):
        archive = served / owner / repo / "archive" / f"{commit}.zip"
        archive.parent.mkdir(parents=True)
        folder = raw_copies["root"] / f"{repo}-{commit}"
        with zipfile.ZipFile(archive, "w") as handle:
            for path in folder.rglob("*"):
                handle.write(path, f"{folder.name}/{path.relative_to(folder)}")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mirror = f"http://127.0.0.1:{server.server_address[1]}"
        out = tmp_path / "data"
        assert main(["data", "fetch", "--mirror", mirror, "--out", str(out)]) == 0
        _check(out, raw_copies)
    finally:
        server.shutdown()


def test_missing_copies_and_dead_mirrors_are_clear_errors(tmp_path, capsys):
    assert main(["data", "fetch", "--from", str(tmp_path), "--out", str(tmp_path / "d")]) == 2
    assert "holds no clothing-co-parsing" in capsys.readouterr().err
    assert main(["data", "fetch", "--mirror", "http://127.0.0.1:9", "--out", str(tmp_path / "d")]) == 2
    assert "--from DIR" in capsys.readouterr().err
    assert not (tmp_path / "d" / "ccp").exists()
