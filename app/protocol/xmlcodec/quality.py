"""The XML of extension feedback (docs/protocol-extensions.md): a listener's ``<quality>``
report, its acknowledgement, and the ``<feedback>`` notice to the floor holder."""

from __future__ import annotations

from lxml import etree

from app.protocol.messages import Body, FeedbackNotice, QualityAck, QualityReport
from app.protocol.xmlcodec.attributes import (
    decimal_attr,
    format_decimal,
    int_attr,
    interphone_id,
    name_attr,
    new_element,
)
from app.protocol.xmlcodec.document import (
    INTERPHONE,
    NOTIFICATION,
    REQUEST,
    RESPONSE,
    Decoders,
    Kinds,
)

MAX_JITTER_MS = 100000.0
"""The greatest ``jitter`` a receiver accepts (docs/protocol-extensions.md, feedback); a
sender writes a greater measure as this (a stream stalled for minutes, a laptop that
slept) rather than have its report refused as malformed."""


def _decode_quality_report(element: etree._Element) -> QualityReport:
    return QualityReport(
        id=interphone_id(element),
        speaker=name_attr(element, "speaker"),
        loss_pct=decimal_attr(element, "loss", limit=100.0),
        jitter_ms=decimal_attr(element, "jitter", limit=MAX_JITTER_MS, default=0.0),
        late=int_attr(element, "late", default=0),
        concealed=int_attr(element, "concealed", default=0),
        recovered=int_attr(element, "recovered", default=0),
        packets=int_attr(element, "packets", default=0),
    )


def _decode_quality_ack(element: etree._Element) -> QualityAck:
    return QualityAck(interphone_id(element))


def _decode_feedback(element: etree._Element) -> FeedbackNotice:
    return FeedbackNotice(
        id=interphone_id(element),
        listeners=int_attr(element, "listeners", default=0),
        worst_pct=decimal_attr(element, "worst", limit=100.0),
        p90_pct=decimal_attr(element, "p90", limit=100.0),
        jitter_ms=decimal_attr(element, "jitter", limit=MAX_JITTER_MS, default=0.0),
    )


def encode(body: Body) -> etree._Element | None:
    """The element of a quality report, its acknowledgement or a feedback notice, else None."""
    match body:
        case QualityReport(interphone, speaker, loss, jitter, late, concealed, recovered,
                           packets):
            return new_element("quality", id=str(interphone), speaker=speaker,
                               loss=format_decimal(min(loss, 100.0)),
                               jitter=format_decimal(min(jitter, MAX_JITTER_MS)),
                               late=str(late),
                               concealed=str(concealed), recovered=str(recovered),
                               packets=str(packets))
        case QualityAck(interphone):
            return new_element("quality", id=str(interphone))
        case FeedbackNotice(interphone, listeners, worst, p90, jitter):
            return new_element("feedback", id=str(interphone), listeners=str(listeners),
                               worst=format_decimal(min(worst, 100.0)),
                               p90=format_decimal(min(p90, 100.0)),
                               jitter=format_decimal(min(jitter, MAX_JITTER_MS)))
    return None


DECODERS: Decoders = {
    (INTERPHONE, REQUEST, "quality"): _decode_quality_report,
    (INTERPHONE, RESPONSE, "quality"): _decode_quality_ack,
    (INTERPHONE, NOTIFICATION, "feedback"): _decode_feedback,
}
KINDS: Kinds = {
    QualityReport: (REQUEST,),
    QualityAck: (RESPONSE,),
    FeedbackNotice: (NOTIFICATION,),
}
