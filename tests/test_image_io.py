import numpy as np
import pytest
from PIL import Image

from poseeditor.errors import ExportError, ImageError
from poseeditor.image_io import load_image, save_image


def test_reads_rgb_grey_rgba_and_16bit(tmp_path):
    Image.fromarray(np.full((4, 6, 3), 7, np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.full((4, 6), 9, np.uint8)).save(tmp_path / "grey.png")
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :3, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(np.full((4, 6), 65535, np.uint16)).save(tmp_path / "g16.png")
    for name in ("rgb", "grey", "rgba", "g16"):
        img = load_image(tmp_path / f"{name}.png")
        assert img.shape == (4, 6, 3) and img.dtype == np.uint8
    assert load_image(tmp_path / "grey.png")[0, 0].tolist() == [9, 9, 9]
    a = load_image(tmp_path / "rgba.png")
    assert a[0, 0].tolist() == [255, 0, 0] and a[0, 5].tolist() == [255, 255, 255]  # transparent -> white
    assert load_image(tmp_path / "g16.png")[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = 255  # left half white
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90° CW on display
    im.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    out = load_image(tmp_path / "rot.jpg")
    assert out.shape == (20, 10, 3)
    assert out[2, 5].mean() > 200 and out[17, 5].mean() < 50  # the white half is now on top


def test_corrupt_missing_and_huge_images(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "junk.jpg")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError):
        load_image(tmp_path / "trunc.jpg")
    with pytest.raises(ImageError, match="megapixels"):
        load_image(tmp_path / "ok.jpg", max_pixels=1000)


def test_save_is_atomic_and_checks_paths(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    save_image(tmp_path / "a.png", img)
    assert (tmp_path / "a.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temp file left behind
    with pytest.raises(ExportError, match="does not exist"):
        save_image(tmp_path / "nope" / "a.png", img)
    with pytest.raises(ExportError, match="unsupported"):
        save_image(tmp_path / "a.xyz", img)


def test_saved_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        save_image(tmp_path / "p.png", np.zeros((2, 2, 3), np.uint8))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "p.png").stat().st_mode) == 0o644
