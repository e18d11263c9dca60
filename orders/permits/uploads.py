"""What a contractor may upload with a restoration act, checked by parsing, never by its name.

A photo is a JPEG, PNG or WebP that Pillow decodes to its last pixel; a document is a PDF that
pypdf opens with at least one page. Whatever the client called the file, it is stored under a
generated name with the extension of what it really is, and served back only as that type, as
an attachment, under a sandboxing Content-Security-Policy (orders.permits.api.restoration): an
HTML page named ``report.pdf``, or one that starts with ``%PDF-``, is refused here, and a file
that slipped through could still never run in our origin.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from gis.exceptions import BadInput

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_FILES = 10
MAX_PHOTO_PIXELS = 80_000_000
"""A 10 MB JPEG can claim a 60,000 × 60,000 canvas (a decompression bomb): more is refused."""
MAX_PDF_PAGES = 500
ORIGINAL_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Checked:
    """An upload that parsed: its kind, its real type and the extension it is stored with."""

    kind: str  # "photo" or "document"
    content_type: str
    extension: str


PHOTO_FORMATS = {
    "JPEG": Checked("photo", "image/jpeg", "jpg"),
    "PNG": Checked("photo", "image/png", "png"),
    "WEBP": Checked("photo", "image/webp", "webp"),
}
PDF = Checked("document", "application/pdf", "pdf")
# What a stored document is served as: the type its content was checked to be.
CONTENT_TYPES = tuple(sorted({c.content_type for c in (*PHOTO_FORMATS.values(), PDF)}))


def _refused(upload: UploadedFile, reason: str) -> BadInput:
    name = display_name(upload.name)
    return BadInput(
        f"{name} is not accepted: {reason}",
        extra={"fields": {"files": [f"{name}: {reason}"]}},
    )


class Refused(ValueError):
    """Why an upload is not what it claims to be, in words for the contractor."""


def _photo(data: bytes) -> Checked | None:
    """The photo's type when Pillow decodes all of it; None when it is not an image at all."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                checked = PHOTO_FORMATS.get(image.format or "")
                if checked is None:
                    raise Refused(
                        _("a %(format)s image; send JPEG, PNG or WebP") % {"format": image.format}
                    )
                if image.width * image.height > MAX_PHOTO_PIXELS:
                    raise Refused(
                        _("%(width)s × %(height)s pixels is too large")
                        % {"width": image.width, "height": image.height}
                    )
                image.load()  # decodes every pixel: a truncated or forged body fails here
    except UnidentifiedImageError:
        return None
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused(_("the image claims too many pixels")) from None
    except (OSError, SyntaxError, ValueError):
        raise Refused(_("the image is damaged or truncated")) from None
    return checked


def _pdf(data: bytes) -> Checked:
    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        pages = len(reader.pages)
        if pages:
            reader.pages[0].mediabox  # noqa: B018  (reads the first page's dictionary)
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError):
        raise Refused(_("it does not open as a PDF document")) from None
    if pages == 0:
        raise Refused(_("the PDF has no pages"))
    if pages > MAX_PDF_PAGES:
        raise Refused(
            _("the PDF has %(pages)s pages; at most %(max_pdf_pages)s")
            % {"pages": pages, "max_pdf_pages": MAX_PDF_PAGES}
        )
    return PDF


def content_check(data: bytes) -> Checked:
    """What the bytes are, by parsing them: a photo or a PDF, else ``Refused`` with why."""
    if data.startswith(b"%PDF-"):
        return _pdf(data)
    photo = _photo(data)
    if photo is None:
        raise Refused(_("not a photo (JPEG, PNG, WebP) nor a PDF document"))
    return photo


def upload_check(upload: UploadedFile) -> Checked:
    """The upload's kind and real type; 400 naming the file when it is neither photo nor PDF.

    The caller checks its size first (orders.permits.services.lifecycle.upload_size_check, 413).
    """
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    try:
        return content_check(data)
    except Refused as exc:
        raise _refused(upload, str(exc)) from None


def stored_name(checked: Checked) -> str:
    """The name a checked upload is stored under: random, with its real type's extension."""
    return f"{uuid.uuid4().hex}.{checked.extension}"


def display_name(name: str | None) -> str:
    """The client's file name, as shown to people only: no path, no control characters."""
    base = (name or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return (cleaned or "upload")[:ORIGINAL_NAME_LENGTH]


EXTENSIONS = {c.content_type: c.extension for c in (PDF, *PHOTO_FORMATS.values())}


def download_name(original: str, content_type: str) -> str:
    """The name a download is saved as: the client's, with its checked type's extension.

    ``report.html`` that parsed as a PDF downloads as ``report.pdf``, and a file of no checked
    type as ``report.bin``: a saved file opens in what it really is, never as a page.
    """
    stem = display_name(original).rsplit(".", 1)[0] if original else "upload"
    return f"{stem or 'upload'}.{EXTENSIONS.get(content_type, 'bin')}"
