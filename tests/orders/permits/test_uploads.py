"""Restoration uploads are what they claim, by parsing, and come back only as downloads."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from orders.permits.models import RestorationDocument
from tests.factories import pdf_bytes, png_bytes
from tests.orders.permits.test_lifecycle import act

pytestmark = pytest.mark.django_db

SCRIPT_PAGE = b"<html><body><script>fetch('/steal?'+localStorage.token)</script></body></html>"


def upload(name: str, data: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def made(reason: str) -> bytes:
    """A GIF, or a noisy PNG cut short: images Pillow opens but must refuse."""
    out = io.BytesIO()
    if reason == "a GIF image":
        Image.new("RGB", (2, 2)).save(out, format="GIF")
        return out.getvalue()
    Image.frombytes("L", (64, 64), bytes(range(256)) * 16).save(out, format="PNG")
    return out.getvalue()[:-40]


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height pixels, with almost no data behind it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("report.html", SCRIPT_PAGE, "not a photo"),
        ("report.pdf", b"%PDF-1.7\n" + SCRIPT_PAGE, "does not open as a PDF"),
        ("after.png", b"\x89PNG\r\n\x1a\n" + SCRIPT_PAGE, "not a photo"),
        ("after.png", None, "damaged or truncated"),
        ("after.png", png_claiming(60_000, 60_000), "too many pixels"),
        ("after.gif", None, "a GIF image"),
    ],
    ids=["html", "pdf-magic-html", "png-magic-html", "truncated", "bomb", "gif"],
)
def test_an_upload_that_does_not_parse_as_photo_or_pdf_is_400_and_not_stored(
    client, auth, make_permit, name, data, reason
):
    if data is None:
        data = made(reason)
    permit = make_permit()

    response = act(client, permit.pk, auth("acme"), upload(name, data))

    assert response.status_code == 400, response.json()
    assert reason in response.json()["error"]["message"]
    assert name in response.json()["error"]["fields"]["files"][0]
    assert not RestorationDocument.objects.exists()


def test_an_upload_is_stored_under_a_generated_name_with_its_real_type(client, auth, make_permit):
    permit = make_permit()

    response = act(
        client,
        permit.pk,
        auth("acme"),
        upload("../../report.html", pdf_bytes()),
        upload("photo.pdf", png_bytes(), "application/pdf"),
    )

    assert response.status_code == 201, response.json()
    stored = {d.original_name: d for d in RestorationDocument.objects.all()}
    assert set(stored) == {"report.html", "photo.pdf"}
    pdf, png = stored["report.html"], stored["photo.pdf"]
    assert (pdf.kind, pdf.content_type) == ("document", "application/pdf")
    assert (png.kind, png.content_type) == ("photo", "image/png")
    for document, extension in ((pdf, ".pdf"), (png, ".png")):
        filename = document.file.name.rsplit("/", 1)[-1]
        assert filename.endswith(extension) and len(filename) == 32 + len(extension)
        assert document.file.name.startswith("restoration/")
    documents = response.json()["properties"]["restoration"]["documents"]
    assert {d["name"] for d in documents} == {"report.html", "photo.pdf"}


def test_a_document_is_served_only_as_a_sandboxed_download_of_its_checked_type(
    client, auth, make_permit
):
    permit = make_permit()
    act(client, permit.pk, auth("acme"), upload("report.html", pdf_bytes()))
    document = RestorationDocument.objects.get()

    response = client.get(
        f"/api/permits/{permit.pk}/restoration/documents/{document.pk}", **auth("operator")
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert b"".join(response.streaming_content) == pdf_bytes()


def test_a_document_stored_before_the_checks_is_served_as_an_octet_stream_download(
    client, auth, make_permit
):
    from django.core.files.base import ContentFile

    from orders.permits.models import RestorationAct

    permit = make_permit()
    restoration = RestorationAct.objects.create(
        permit=permit, restored_on=permit.issued_on, text="x"
    )
    document = RestorationDocument(act=restoration, kind="document", original_name="old.html")
    document.file.save("old.html", ContentFile(SCRIPT_PAGE), save=True)

    response = client.get(
        f"/api/permits/{permit.pk}/restoration/documents/{document.pk}", **auth("operator")
    )

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="old.bin"'
    assert "sandbox" in response["Content-Security-Policy"]
