"""Reading photos safely: EXIF orientation, any mode -> RGB8, a pixel limit against decompression bombs.

Writing images atomically (write to a temporary file in the same folder, then rename).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from poseeditor.errors import ExportError, ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MAX_PIXELS = 80_000_000  # ~ a 10k×8k photo; anything larger is refused before it is decoded
# The editor's smallest photo: the person detector needs 16 px on a side, and nobody can be re-posed in less.
MIN_PHOTO_SIDE = 16


_ORIENTATION = 0x0112  # the EXIF tag


def load_image(
    path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS, reduce: int = 1, min_side: int = 1
) -> np.ndarray:
    """The photo as an (H, W, 3) uint8 RGB array, upright per its EXIF orientation. Photos over `max_pixels`
    or under `min_side` pixels on a side are refused (ImageError) before they are decoded.

    `reduce` ∈ {1, 2, 4, 8} lets libjpeg decode a JPEG at 1/reduce size (ceil(W/reduce) × ceil(H/reduce); the same
    pixels as OpenCV's IMREAD_REDUCED_COLOR_*); other formats ignore it. Truncated files are errors, never partly
    grey images (PIL raises where OpenCV only warns)."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    with _pil_errors(path), Image.open(path) as im:
        w, h = im.size
        if w * h > max_pixels:
            raise ImageError(
                f"{path}: {w}×{h} = {w * h / 1e6:.0f} megapixels is over the limit of "
                f"{max_pixels / 1e6:.0f} megapixels"
            )
        if min(w, h) < min_side:
            raise ImageError(
                f"{path}: {w}×{h} px is too small; a photo needs at least {min_side} px on a side"
            )
        if reduce > 1:
            im.draft(None, (max(1, w // reduce), max(1, h // reduce)))
        if im.getexif().get(_ORIENTATION, 1) != 1:  # exif_transpose copies even when nothing turns
            im = ImageOps.exif_transpose(im)
        return _to_rgb8(im)


@contextlib.contextmanager
def _pil_errors(path: Path) -> Iterator[None]:
    """PIL's ways of failing on a file as one-line ImageErrors; a decompression-bomb warning counts as an error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: image too large ({exc})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file this program can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: corrupt or truncated image ({exc})") from None


def image_size(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) read from the file's header without decoding it; ImageError when the file is not an image
    or is over the pixel limit (a decompression bomb is refused before a byte of it is inflated)."""
    path = Path(path)
    with _pil_errors(path), Image.open(path) as im:
        w, h = im.size
    if w * h > max_pixels:
        raise ImageError(
            f"{path}: {w}×{h} = {w * h / 1e6:.0f} megapixels is over the limit of {max_pixels / 1e6:.0f} megapixels"
        )
    return w, h


def load_photo(path: str | os.PathLike[str]) -> np.ndarray:
    """A photo for the editor: `load_image` with the editor's minimum size."""
    return load_image(path, min_side=MIN_PHOTO_SIDE)


def _to_rgb8(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        top = 1.0 if arr.max() <= 1.0 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.array(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.array(im if im.mode == "RGB" else im.convert("RGB"))


PixelValues = TypeVar("PixelValues")  # a numpy array or a torch tensor (torch is not imported here)


def to_unit(x: PixelValues) -> PixelValues:
    """Pixel values from the networks' [-1, 1] (DESIGN §3) to [0, 1]: numpy arrays and torch tensors alike.
    The one place this mapping is written (the trainer's losses and metrics, the engine's pictures)."""
    return (x + 1.0) * 0.5


def unit_picture(network_image: np.ndarray) -> np.ndarray:
    """A network image (C,S,S) in [-1, 1] as the (S,S,C) float32 picture in [0, 1] the editor shows and saves."""
    return np.clip(np.moveaxis(to_unit(network_image), 0, -1), 0.0, 1.0).astype(np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] as uint8 pixels (rounded, clipped)."""
    return np.clip(np.asarray(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def save_image(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = 95) -> None:
    """Write an RGB (or single-channel) uint8 image atomically; the format follows the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ExportError(f"{path}: unsupported image type '{suffix}' (use .png or .jpg)")
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise ValueError("save_image wants uint8 pixels")
    bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR) if arr.ndim == 3 else arr
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise ExportError(f"{path}: could not encode the image")
    atomic_write_bytes(path, buf.tobytes())


class PendingFile:
    """A temporary file beside `path` that becomes `path` in one rename (`commit`) or disappears (`abort`), so
    readers see the old file or the whole new one, never a part. The one place that writes files this way:
    `atomic_write_bytes`, the MP4 writer (ffmpeg writes the temporary file itself), the ONNX exporter.

    As a context manager it commits when the block ends normally and aborts when it raises.
    """

    def __init__(self, path: str | os.PathLike[str], suffix: str = ".tmp") -> None:
        self.path = Path(path)
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if not folder.is_dir():
            raise ExportError(f"{self.path}: the folder {folder} does not exist")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=suffix, dir=folder)
        except OSError as exc:
            raise ExportError(f"{self.path}: cannot write there ({exc.strerror or exc})") from None
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> None:
        try:
            # mkstemp makes the file 0600; give it the mode a plain open() would have (0666 minus the umask)
            os.chmod(self.tmp, default_mode())
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise ExportError(f"{self.path}: could not write ({exc.strerror or exc})") from None

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> PendingFile:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part."""
    pending = PendingFile(path)
    try:
        with pending, open(pending.tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise ExportError(f"{pending.path}: could not write ({exc.strerror or exc})") from None


def default_mode(folder: bool = False) -> int:
    """The mode a plain open()/mkdir() would give (0666/0777 minus the umask); temp files are made 0600/0700."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


# The names tempfile.mkstemp gives our temporary files: ".<target name>.<8 random chars>.tmp" (atomic_write_bytes)
# and ".<target name>.<8 random chars>.mp4" (the MP4 writer). mkstemp makes them 0600; a finished write makes the
# file 0644 (minus the umask) just before renaming it into place, so a 0600 file of that name is a write that died.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.(tmp|mp4)$")
STALE_TEMP_SECONDS = 3600.0


def clean_stale_temp_files(folder: str | os.PathLike[str], max_age_s: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete what killed writes of this program left in `folder` (temporary files of our naming, still 0600,
    owned by this user, untouched for `max_age_s`): a killed MP4 export leaves a partial video there, a killed
    checkpoint write a partial checkpoint. Younger ones may belong to a write still running in another process.
    Never raises; returns what it deleted."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not _TEMP_NAME.match(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if (
                stat.S_ISREG(st.st_mode)
                and stat.S_IMODE(st.st_mode) == 0o600
                and st.st_uid == os.getuid()
                and now - st.st_mtime > max_age_s
            ):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except (OSError, AttributeError):  # vanished meanwhile; no getuid (Windows)
            continue
    return removed


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def check_writable(path: str | os.PathLike[str], what: str, image: bool = False) -> None:
    """Raise ExportError now, before any work, if `path` cannot be written (so nothing partial is left)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"{path}: cannot write the {what}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"{path}: cannot write the {what}: folder {folder} is not writable")
    if path.is_dir():
        raise ExportError(f"{path}: cannot write the {what}: it is a folder")
    if image and path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ExportError(f"{path}: the {what} must be an image file ({', '.join(IMAGE_SUFFIXES)})")
