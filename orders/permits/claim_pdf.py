"""A claim as a formal PDF letter (reportlab), with a small site plan drawn from PostGIS.

The plan is vectors only: the work area, and the buildings, yards and streets around it, read
from the database and projected here. No map tiles are fetched: a city network may reach
nothing outside, and a claim must print the same in ten years.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from orders.appeals.models import Appeal
from orders.permits.models import Claim
from orders.permits.selectors import SitePlan, appeals_for_permit, local_today, site_plan

# DejaVu has Cyrillic and Kazakh letters (the built-in Helvetica has neither); scripts/setup.sh
# installs it (fonts-dejavu-core). Without it the letter still renders, Latin only.
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def _fonts() -> tuple[str, str]:
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if not (regular.is_file() and bold.is_file()):
        return "Helvetica", "Helvetica-Bold"
    if "CitygisSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("CitygisSans", str(regular)))
        pdfmetrics.registerFont(TTFont("CitygisSans-Bold", str(bold)))
    return "CitygisSans", "CitygisSans-Bold"


INK = colors.HexColor("#1b1b1b")
MUTED = colors.HexColor("#5c5c5c")
RULE = colors.HexColor("#9a9a9a")
WORK_AREA = colors.HexColor("#d62828")


def _day(day) -> str:
    """A day as a letter writes it, then as a form does: "1 марта 2027 г. (01.03.2027)"."""
    return f"{date_format(day, 'DATE_FORMAT')} ({date_format(day, 'SHORT_DATE_FORMAT')})"


def _short(day) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


class SitePlanFlowable(Flowable):
    """The site plan: a local equirectangular projection of the bbox, fitted to the frame."""

    def __init__(self, plan: SitePlan, width: float, height: float, font: str) -> None:
        super().__init__()
        self.plan, self.width, self.height, self.font = plan, width, height, font
        xmin, ymin, xmax, ymax = plan.bbox
        self.lon0, self.lat0 = (xmin + xmax) / 2, (ymin + ymax) / 2
        self.kx = 111_320.0 * math.cos(math.radians(self.lat0))
        self.ky = 110_574.0
        span_x = (xmax - xmin) * self.kx
        span_y = (ymax - ymin) * self.ky
        self.scale = min(width / span_x, height / span_y)  # points per metre

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            self.width / 2 + (lon - self.lon0) * self.kx * self.scale,
            self.height / 2 + (lat - self.lat0) * self.ky * self.scale,
        )

    def _rings(self, geom: GEOSGeometry) -> Iterable[Sequence[tuple[float, float]]]:
        if geom.geom_type == "Polygon":
            yield from (ring.coords for ring in geom)
        elif geom.geom_type == "MultiPolygon":
            for polygon in geom:
                yield from (ring.coords for ring in polygon)

    def _lines(self, geom: GEOSGeometry) -> Iterable[Sequence[tuple[float, float]]]:
        if geom.geom_type == "LineString":
            yield geom.coords
        elif geom.geom_type == "MultiLineString":
            yield from (line.coords for line in geom)

    def _path(self, parts: Iterable[Sequence[tuple[float, float]]], close: bool):
        path = self.canv.beginPath()
        for part in parts:
            for i, (lon, lat) in enumerate(part):
                x, y = self.xy(lon, lat)
                if i == 0:
                    path.moveTo(x, y)
                else:
                    path.lineTo(x, y)
            if close:
                path.close()
        return path

    def _area(self, geom: GEOSGeometry, fill, stroke, width: float, alpha: float = 1.0) -> None:
        c = self.canv
        c.setFillColor(fill)
        c.setFillAlpha(alpha)
        c.setStrokeColor(stroke)
        c.setLineWidth(width)
        c.drawPath(self._path(self._rings(geom), close=True), fill=1, stroke=1, fillMode=0)
        c.setFillAlpha(1)

    def draw(self) -> None:
        c, plan = self.canv, self.plan
        c.saveState()
        frame = c.beginPath()
        frame.rect(0, 0, self.width, self.height)
        c.clipPath(frame, stroke=0, fill=0)
        c.setFillColor(colors.HexColor("#f4f2ee"))
        c.rect(0, 0, self.width, self.height, stroke=0, fill=1)
        for yard in plan.yards:
            self._area(yard, colors.HexColor("#efe6c2"), colors.HexColor("#c2ae6a"), 0.4)
        c.setLineCap(1)
        c.setLineJoin(1)
        for colour, width in ((RULE, 5.0), (colors.white, 3.8)):  # casing, then fill
            c.setStrokeColor(colour)
            c.setLineWidth(width)
            for _name, line in plan.streets:
                c.drawPath(self._path(self._lines(line), close=False), stroke=1, fill=0)
        for building in plan.buildings:
            if building.geom_type == "Point":
                x, y = self.xy(building.x, building.y)
                c.setFillColor(colors.HexColor("#8d8d8d"))
                c.circle(x, y, 1.5, stroke=0, fill=1)
            else:
                self._area(building, colors.HexColor("#d0cbc4"), colors.HexColor("#8d8d8d"), 0.4)
        self._area(plan.work_area, WORK_AREA, WORK_AREA, 1.6, alpha=0.35)
        self._street_names()
        c.restoreState()
        self._furniture()

    def _street_names(self) -> None:
        """Each street name once, along its longest drawn segment."""
        c = self.canv
        longest: dict[str, tuple[float, tuple[float, float], float]] = {}
        for name, line in self.plan.streets:
            if not name:
                continue
            coords = [self.xy(*p) for p in line.coords]
            for (x1, y1), (x2, y2) in zip(coords, coords[1:], strict=False):
                length = math.hypot(x2 - x1, y2 - y1)
                inside = 0 < (x1 + x2) / 2 < self.width and 0 < (y1 + y2) / 2 < self.height
                if inside and length > longest.get(name, (0.0,))[0]:
                    angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
                    if angle > 90 or angle < -90:
                        angle -= 180 * (1 if angle > 0 else -1)
                    longest[name] = (length, ((x1 + x2) / 2, (y1 + y2) / 2), angle)
        c.setFont(self.font, 6)
        c.setFillColor(MUTED)
        for name, (length, (x, y), angle) in longest.items():
            if length < c.stringWidth(name, self.font, 6) * 0.8:
                continue
            c.saveState()
            c.translate(x, y)
            c.rotate(angle)
            c.drawCentredString(0, -2, name)
            c.restoreState()

    def _furniture(self) -> None:
        """Frame, north arrow, scale bar."""
        c = self.canv
        c.setStrokeColor(INK)
        c.setLineWidth(0.6)
        c.rect(0, 0, self.width, self.height, stroke=1, fill=0)
        # north arrow, top right
        x, y = self.width - 14, self.height - 26
        c.setFillColor(INK)
        arrow = c.beginPath()
        arrow.moveTo(x, y + 16)
        arrow.lineTo(x - 4, y + 4)
        arrow.lineTo(x, y + 7)
        arrow.lineTo(x + 4, y + 4)
        arrow.close()
        c.drawPath(arrow, fill=1, stroke=0)
        c.setFont(self.font, 7)
        c.drawCentredString(x, y - 4, _("N"))
        # scale bar, bottom left: a round number of metres about a fifth of the width
        target = self.width / 5 / self.scale
        metres = next(m for m in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000) if m >= target / 2)
        bar = metres * self.scale
        c.setFillColor(colors.white)
        c.rect(6, 6, bar + 40, 16, stroke=0, fill=1)
        c.setFillColor(INK)
        c.rect(10, 10, bar, 3, stroke=1, fill=1)
        c.setFont(self.font, 7)
        c.drawString(14 + bar, 10, _("%(metres)s m") % {"metres": metres})


def _styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=13, textColor=INK)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10, textColor=MUTED),
        "right": ParagraphStyle("right", parent=base, fontSize=8, alignment=TA_RIGHT),
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=16, leading=20),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=11, leading=15),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=10.5, spaceBefore=8),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
        "key": ParagraphStyle("key", parent=base, fontName=bold, fontSize=8.5, leading=11),
    }


def _facts_table(rows: list[tuple[str, str]], st: dict[str, ParagraphStyle], width: float):
    table = Table(
        [[Paragraph(escape(k), st["key"]), Paragraph(escape(v), st["cell"])] for k, v in rows],
        colWidths=[48 * mm, width - 48 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f1f1")),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ]
        )
    )
    return table


def _appeals_table(appeals: list[Appeal], st: dict[str, ParagraphStyle], width: float):
    head = [_("Appeal"), _("Received"), _("Category"), _("Status"), _("Address")]
    rows = [[Paragraph(h, st["key"]) for h in head]]
    for a in appeals:
        received = _short(timezone.localtime(a.received_at).date())
        cells = [a.number, received, a.category.name, a.get_status_display(), a.address or "—"]
        rows.append([Paragraph(escape(str(v)), st["cell"]) for v in cells])
    table = Table(rows, colWidths=[w * width for w in (0.17, 0.14, 0.27, 0.12, 0.30)])
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1f1f1")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def claim_language(requested: str | None = None) -> str:
    """The language of a claim: the one asked for if we have it, else ``CLAIM_LANGUAGE``."""
    languages = dict(settings.LANGUAGES)
    return requested if requested in languages else settings.CLAIM_LANGUAGE


def claim_pdf(*, claim: Claim, language: str | None = None) -> bytes:
    """The claim as an A4 letter in ``claim_language(language)``: the legal wording of the city.

    The same claim reads the same whoever downloads it: the language is the city's setting
    (Russian for a Russian or Kazakh city), not the browser's; ``language`` asks for another
    (the Kazakh copy of a claim, say).
    """
    with translation.override(claim_language(language)):
        return _claim_pdf(claim)


def _claim_pdf(claim: Claim) -> bytes:
    regular, bold = _fonts()
    st = _styles(regular, bold)
    permit = claim.permit
    contractor = permit.contractor
    city = settings.DEMO_CITY_NAME
    made_on = local_today(claim.created_at)
    width = A4[0] - 40 * mm
    police = claim.recipient_kind == Claim.Recipient.POLICE

    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=_("Claim %(number)s") % {"number": claim.number},
        author=_("%(city)s city operations centre") % {"city": city},
        subject=_("Excavation permit %(permit)s not restored by %(deadline)s")
        % {"permit": permit.number, "deadline": _short(claim.deadline)},
    )
    story: list[Flowable] = []
    header = Table(
        [
            [
                Paragraph(
                    "<b>%s</b>" % (_("%(city)s city operations centre") % {"city": escape(city)}),
                    st["base"],
                ),
                Paragraph(
                    _("Claim No. %(number)s") % {"number": escape(claim.number)}
                    + f"<br/>{_day(made_on)}",
                    st["right"],
                ),
            ]
        ],
        colWidths=[width * 0.6, width * 0.4],
    )
    header.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, 0), 0.8, INK)]))
    story += [header, Spacer(1, 6 * mm)]
    email = claim.recipient.email or claim.email
    to = _("To: %(name)s") % {"name": f"<b>{escape(claim.recipient.name)}</b>"} + (
        f" &lt;{escape(email)}&gt;" if email else ""
    )
    story += [
        Paragraph(to, st["base"]),
        Spacer(1, 5 * mm),
        Paragraph(_("FORMAL CLAIM No. %(number)s") % {"number": escape(claim.number)}, st["title"]),
        Paragraph(
            _("Failure to restore an excavation site by the deadline of its permit"),
            st["subtitle"],
        ),
        Spacer(1, 4 * mm),
    ]
    where = escape(permit.address) if permit.address else _("the site shown on the plan below")
    overdue = ngettext("%(days)s day overdue", "%(days)s days overdue", claim.days_overdue) % {
        "days": claim.days_overdue
    }
    story.append(
        Paragraph(
            _(
                "Excavation permit No. %(permit)s allowed %(contractor)s to dig at %(where)s "
                "for: %(purpose)s. The site had to be restored by %(deadline)s. On %(today)s "
                "the permit is still %(status)s and no restoration act has closed it: the "
                "restoration is %(overdue)s."
            )
            % {
                "permit": f"<b>{escape(permit.number)}</b>",
                "contractor": f"<b>{escape(contractor.name)}</b>",
                "where": where,
                "purpose": escape(permit.purpose),
                "deadline": f"<b>{_day(claim.deadline)}</b>",
                "today": _day(made_on),
                "status": escape(str(permit.get_status_display()).lower()),
                "overdue": f"<b>{overdue}</b>",
            },
            st["base"],
        )
    )
    story.append(Spacer(1, 3 * mm))
    if police:
        ask = _(
            "The open excavation may endanger traffic and pedestrians. The operations centre "
            "asks the traffic police department to inspect the site and to take the measures "
            "the law provides against the contractor named below."
        )
    else:
        ask = _(
            "You are required to restore the site without delay and to submit the restoration "
            "act (date, description, photos or documents) through the permit, or to apply for "
            "an extension of the deadline stating its reason. A copy of this claim has been "
            "sent to the traffic police department."
        )
    story += [Paragraph(ask, st["base"]), Spacer(1, 2 * mm)]

    extensions = list(permit.extensions.filter(status="approved").order_by("decided_at"))
    facts = [
        (_("Permit number"), permit.number),
        (_("Purpose"), permit.purpose),
        (_("Work site address"), permit.address or "—"),
        (_("Contractor"), contractor.name + (f", {contractor.email}" if contractor.email else "")),
        (_("Responsible person"), permit.responsible_person),
        (_("Issued on"), _day(permit.issued_on)),
        (_("Planned start"), _day(permit.planned_start)),
        (_("Restoration deadline"), _day(claim.deadline)),
        (_("Days overdue"), str(claim.days_overdue)),
        (_("Permit status"), str(permit.get_status_display())),
    ]
    if extensions:
        facts.append(
            (
                _("Earlier deadlines"),
                "; ".join(
                    f"{_short(e.old_deadline)} → {_short(e.new_deadline)} ({e.reason})"
                    for e in extensions
                ),
            )
        )
    story += [Paragraph(_("Particulars"), st["h2"]), _facts_table(facts, st, width)]

    appeals = appeals_for_permit(permit)
    story.append(Paragraph(_("Residents' appeals about the site"), st["h2"]))
    if appeals:
        story.append(_appeals_table(appeals, st, width))
    else:
        story.append(Paragraph(_("None recorded."), st["base"]))

    plan = site_plan(geom=permit.geom)
    story.append(
        KeepTogether(
            [
                Paragraph(_("Site plan"), st["h2"]),
                SitePlanFlowable(plan, width, 68 * mm, regular),
                Spacer(1, 1.5 * mm),
                Paragraph(
                    _(
                        "Work area in red; buildings grey, yards beige, streets white. Map data "
                        "© OpenStreetMap contributors (ODbL) and the city's registers. "
                        "Issued by the %(city)s city operations centre: generated "
                        "automatically when the deadline passed. Quote the claim number "
                        "%(number)s in any reply."
                    )
                    % {"city": escape(city), "number": escape(claim.number)},
                    st["small"],
                ),
            ]
        )
    )

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(
            20 * mm,
            10 * mm,
            _("Claim %(claim)s · permit %(permit)s")
            % {"claim": claim.number, "permit": permit.number},
        )
        canvas.drawRightString(
            A4[0] - 20 * mm, 10 * mm, _("page %(page)s") % {"page": document.page}
        )
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
