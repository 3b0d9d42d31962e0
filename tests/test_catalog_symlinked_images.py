"""A product folder whose photos sit behind a symbolic link out of it gets an error that says so (#28)."""

from __future__ import annotations

import cv2
import numpy as np

from edge_bml.cli.main import main


def test_photos_behind_a_link_out_of_images_are_refused_with_the_reason(tmp_path, capsys):
    real = tmp_path / "data" / "imgs"
    real.mkdir(parents=True)
    cv2.imwrite(str(real / "a.jpg"), np.full((40, 30, 3), 90, np.uint8))
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "images").symlink_to(real)
    (tmp_path / "items.csv").write_text("id,file,category\na,images/a.jpg,top\n")
    code = main(
        [
            "catalog",
            "build",
            "--images",
            str(shop),
            "--items",
            str(tmp_path / "items.csv"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"edge-bml: error: nothing to build: 1 of 1 rows refused (e.g. line 2: file 'images/a.jpg' is not inside "
        f"the images folder {shop.resolve()}; photos must lie inside --images, resolved to {shop.resolve()}, and a "
        "symbolic link inside it may not point out of it)"
    )
    assert not (tmp_path / "out").exists()


def test_pointing_images_at_the_linked_folder_builds(tmp_path):
    real = tmp_path / "imgs"
    real.mkdir()
    cv2.imwrite(str(real / "a.jpg"), np.full((40, 30, 3), 90, np.uint8))
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "items.csv").write_text("id,file,category\na,a.jpg,top\n")
    argv = ["catalog", "build", "--images", str(tmp_path / "link"), "--items", str(tmp_path / "items.csv")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
