"""A client failure (:class:`~app.client.failures.Failure`) or a sound-card error
(:class:`~app.audio.backend.AudioDeviceError`) worded in the interface's language:
app/client and app/audio word them in English only (the CLI's lines), the desktop here.

Call it when the text is shown, and again on a language change: nothing is cached.
"""

from __future__ import annotations

import errno
import os
import re

from PySide6.QtCore import QCoreApplication

from app.audio.backend import AudioDeviceError, DeviceErrorReason
from app.client.errors import failure_of
from app.client.failures import Failure, FailureKind, OsReason

_PLACEHOLDER = re.compile(r"%([1-9])")


def fill(text: str, *values: str) -> str:
    """``text`` with ``%1``, ``%2``... replaced by ``values`` in one pass (as QString.arg:
    a value that holds ``%2`` itself, e.g. an IPv6 scope, stays as it is)."""
    return _PLACEHOLDER.sub(lambda match: values[int(match.group(1)) - 1]
                            if int(match.group(1)) <= len(values) else match.group(0), text)


def error_text(exc: BaseException) -> str:
    """``exc`` (any client error, a sound-card error, or an OSError) in the interface's
    language; a well-known file error (permission denied, disk full...) names its file."""
    if isinstance(exc, AudioDeviceError):
        return device_error_text(exc)
    if isinstance(exc, OSError):
        reason = file_reason_text(exc.errno)
        if reason:
            if isinstance(exc.filename, str | bytes | os.PathLike):
                return fill(QCoreApplication.translate("FailureText", "%1 (%2)"), reason,
                            os.fsdecode(exc.filename))
            return reason
    return failure_text(failure_of(exc))


def file_reason_text(number: int | None) -> str:
    """A well-known reason a file could not be written or read, translated ("" if it is
    not one: ``failure_of`` words the rest)."""
    if number in (errno.EACCES, errno.EPERM):
        return QCoreApplication.translate("FailureText", "permission denied")
    return {
        errno.EROFS: QCoreApplication.translate("FailureText", "the file system is read-only"),
        errno.ENOSPC: QCoreApplication.translate("FailureText", "the disk is full"),
        errno.EDQUOT: QCoreApplication.translate("FailureText", "the disk quota is exceeded"),
        errno.ENOENT: QCoreApplication.translate("FailureText", "no such file or folder"),
        errno.ENOTDIR: QCoreApplication.translate("FailureText",
                                                  "a part of the path is not a folder"),
    }.get(number or 0, "")


def os_reason_text(reason: OsReason | None, words: str) -> str:
    """The operating system's reason: a well-known one translated, else its own ``words``."""
    known = {
        OsReason.REFUSED: QCoreApplication.translate(
            "FailureText", "the connection was refused (no server on this port?)"),
        OsReason.RESET: QCoreApplication.translate(
            "FailureText", "the connection was reset"),
        OsReason.TIMED_OUT: QCoreApplication.translate(
            "FailureText", "no answer in time"),
        OsReason.HOST_UNREACHABLE: QCoreApplication.translate(
            "FailureText", "no route to the host"),
        OsReason.NETWORK_UNREACHABLE: QCoreApplication.translate(
            "FailureText", "the network is unreachable"),
        OsReason.UNKNOWN_HOST: QCoreApplication.translate(
            "FailureText", "unknown host name"),
    }
    return known.get(reason, words) if reason is not None else words


def reach_reason(failure: Failure) -> str:
    """Why ``failure``'s server could not be reached, without naming it (the connection
    was refused, no answer in time, an unknown host...), for a sentence that names the
    server itself; "" when ``failure`` is not one of reaching a server."""
    if failure.kind in (FailureKind.CANNOT_CONNECT, FailureKind.CANNOT_REACH):
        return os_reason_text(failure.os_reason, failure.detail).rstrip(". ")
    if failure.kind is FailureKind.NO_ANSWER:
        return fill(QCoreApplication.translate("FailureText", "no answer within %1 s"),
                    f"{failure.seconds:g}")
    return ""


def failure_text(failure: Failure) -> str:
    """One sentence naming ``failure``, in the interface's language."""
    kind, server, detail = failure.kind, failure.server, failure.detail
    seconds = f"{failure.seconds:g}"
    if kind in (FailureKind.CANNOT_CONNECT, FailureKind.CANNOT_REACH, FailureKind.OS_ERROR):
        reason = os_reason_text(failure.os_reason, detail)
        if kind is FailureKind.OS_ERROR:
            return reason
        return fill(QCoreApplication.translate("FailureText", "Cannot reach %1: %2."),
                    server, reason)
    if kind is FailureKind.NO_ANSWER:
        return fill(QCoreApplication.translate(
            "FailureText", "Cannot reach %1: no answer within %2 s."), server, seconds)
    if kind.tls:
        return fill(QCoreApplication.translate(
            "FailureText", "Encrypted connection to %1: %2"), server, _tls_text(failure))
    if kind is FailureKind.REQUEST_TIMEOUT:
        return fill(QCoreApplication.translate(
            "FailureText", "The server did not answer within %1 s."), seconds)
    if kind is FailureKind.SERVER_ERROR:
        return _server_error_text(failure.errcode, detail)
    if kind is FailureKind.STORE_UNAVAILABLE:
        return QCoreApplication.translate(
            "FailureText", "The server cannot reach its database; try again in a moment.")
    if kind is FailureKind.LEFT_THE_LINE:
        return {
            "timeout": QCoreApplication.translate(
                "FailureText", "You left the line: your turn did not come in time."),
            "displaced": QCoreApplication.translate(
                "FailureText", "You left the line: someone with priority took your place."),
        }.get(detail, QCoreApplication.translate("FailureText", "You left the line."))
    fixed = {
        FailureKind.TLS_REQUIRED: QCoreApplication.translate(
            "FailureText", "The server answered with TLS: this port requires an encrypted "
            "connection."),
        FailureKind.MAYBE_TLS_REQUIRED: QCoreApplication.translate(
            "FailureText", "The server closed the connection before any answer (it may "
            "require an encrypted connection)."),
        FailureKind.CONNECTION_LOST: QCoreApplication.translate(
            "FailureText", "The connection to the server was lost."),
        FailureKind.PROTOCOL_ERROR: QCoreApplication.translate(
            "FailureText", "The server sent an answer this program cannot read."),
        FailureKind.NOT_CONNECTED: QCoreApplication.translate(
            "FailureText", "Not connected to the server."),
        FailureKind.NOT_JOINED: QCoreApplication.translate(
            "FailureText", "Join an interphone first."),
    }
    return fixed.get(kind, detail)


def _server_error_text(errcode: int | None, detail: str) -> str:
    """A server's refusal: what its code means (PROTOCOL.md section 4), then the server's
    own words (``errmsg``, in whatever language the server speaks) as they are."""
    code = str(errcode)
    meaning = {
        400: QCoreApplication.translate("FailureText", "The server did not accept the request"),
        401: QCoreApplication.translate("FailureText",
                                        "Not signed in, or the sign-in was refused"),
        403: QCoreApplication.translate("FailureText", "Not allowed"),
        404: QCoreApplication.translate("FailureText", "You are not in that interphone"),
        409: QCoreApplication.translate("FailureText", "Someone else is speaking"),
        413: QCoreApplication.translate("FailureText", "The request is too large"),
        429: QCoreApplication.translate("FailureText", "Too many requests: wait a moment"),
        500: QCoreApplication.translate("FailureText", "The server had a fault"),
    }.get(errcode or 0)
    if meaning is None:
        if not detail:
            return fill(QCoreApplication.translate(
                "FailureText", "The server answered with error %1."), code)
        return fill(QCoreApplication.translate(
            "FailureText", "The server answered with error %1: %2"), code, detail)
    if not detail:
        return fill(QCoreApplication.translate("FailureText", "%1 (error %2)."), meaning, code)
    return fill(QCoreApplication.translate("FailureText", "%1 (error %2): %3"), meaning, code,
                detail)


def _tls_text(failure: Failure) -> str:
    kind, detail = failure.kind, failure.detail
    with_detail = {
        FailureKind.TLS_FINGERPRINT_MISMATCH: QCoreApplication.translate(
            "FailureText", "the certificate is not the one you accepted: the server "
            "presented %1"),
        FailureKind.TLS_UNKNOWN_ISSUER: QCoreApplication.translate(
            "FailureText", "the certificate's issuer is unknown (%1)"),
        FailureKind.TLS_NAME_MISMATCH: QCoreApplication.translate(
            "FailureText", "the certificate is for another name (%1)"),
        FailureKind.TLS_CERTIFICATE_REFUSED: QCoreApplication.translate(
            "FailureText", "the certificate was refused (%1)"),
        FailureKind.TLS_NO_COMMON_VERSION: QCoreApplication.translate(
            "FailureText", "no TLS version in common with the server (%1)"),
        FailureKind.TLS_HANDSHAKE_FAILED: QCoreApplication.translate(
            "FailureText", "the handshake failed (%1)"),
    }
    if kind in with_detail and (detail or kind is not FailureKind.TLS_FINGERPRINT_MISMATCH):
        return fill(with_detail[kind], detail)
    return {
        FailureKind.TLS_FINGERPRINT_MISMATCH: QCoreApplication.translate(
            "FailureText", "the certificate is not the one you accepted"),
        FailureKind.TLS_NO_CERTIFICATE: QCoreApplication.translate(
            "FailureText", "the server sent no certificate"),
        FailureKind.TLS_EXPIRED: QCoreApplication.translate(
            "FailureText", "the certificate has expired"),
        FailureKind.TLS_NOT_YET_VALID: QCoreApplication.translate(
            "FailureText", "the certificate is not valid yet (check this computer's clock)"),
        FailureKind.TLS_NOT_TLS: QCoreApplication.translate(
            "FailureText", "the server does not speak TLS on this port"),
        FailureKind.TLS_PLAIN_TEXT: QCoreApplication.translate(
            "FailureText", "the server does not speak TLS on this port (it answers in "
            "plain text: sign in without encryption)"),
        FailureKind.TLS_CLOSED_DURING_HANDSHAKE: QCoreApplication.translate(
            "FailureText", "the server closed the connection during the handshake (it may "
            "not speak TLS on this port: try without encryption)"),
        FailureKind.TLS_TIMED_OUT: QCoreApplication.translate(
            "FailureText", "the handshake timed out"),
    }.get(kind, detail)


def device_error_text(error: AudioDeviceError) -> str:
    """A sound-card error in one sentence: what its reason means, then the audio library's
    own words in parentheses where they add something (``error.detail``; for a reason of
    ``OTHER``, the English message when there is nothing else)."""
    meaning = _device_reason_text(error)
    detail = error.detail or (str(error) if error.reason is DeviceErrorReason.OTHER else "")
    if detail:
        return fill(QCoreApplication.translate("DeviceErrorText", "%1 (%2)."), meaning, detail)
    return fill(QCoreApplication.translate("DeviceErrorText", "%1."), meaning)


def device_problem_text(error: AudioDeviceError) -> str:
    """A device that failed while in use (the window's banner, the settings): what went
    wrong and what to do."""
    return fill(QCoreApplication.translate(
        "DeviceErrorText", "%1 Check the device, then press Refresh in the settings."),
        device_error_text(error))


def _device_reason_text(error: AudioDeviceError) -> str:
    """The meaning of ``error.reason``, naming the device when it is known (no full stop)."""
    reason, device, direction = error.reason, error.device, error.direction
    if reason is DeviceErrorReason.NO_DEVICE:
        return {
            "input": QCoreApplication.translate("DeviceErrorText", "No microphone was found"),
            "output": QCoreApplication.translate("DeviceErrorText",
                                                 "No speakers or headphones were found"),
        }.get(direction or "", QCoreApplication.translate("DeviceErrorText",
                                                          "No audio device was found"))
    if reason is DeviceErrorReason.AUDIO_SYSTEM:
        return QCoreApplication.translate("DeviceErrorText",
                                          "The computer's audio system is not available")
    if reason is DeviceErrorReason.NO_CHANNELS and device and direction:
        return fill({
            "input": QCoreApplication.translate(
                "DeviceErrorText", "The audio device “%1” cannot record: it has no input"),
            "output": QCoreApplication.translate(
                "DeviceErrorText", "The audio device “%1” cannot play sound: it has no output"),
        }[direction], device)
    named, unnamed = _device_reason_texts().get(reason, (
        QCoreApplication.translate("DeviceErrorText", "The audio device “%1” failed"),
        QCoreApplication.translate("DeviceErrorText", "The audio device failed")))
    return fill(named, device) if device else unnamed


def _device_reason_texts() -> dict[DeviceErrorReason, tuple[str, str]]:
    """Each reason's meaning naming the device (``%1``), and without a name."""
    return {
        DeviceErrorReason.NOT_FOUND: (
            QCoreApplication.translate("DeviceErrorText", "The audio device “%1” was not found"),
            QCoreApplication.translate("DeviceErrorText", "The audio device was not found")),
        DeviceErrorReason.NO_CHANNELS: (
            QCoreApplication.translate("DeviceErrorText",
                                       "The audio device “%1” has no usable channels"),
            QCoreApplication.translate("DeviceErrorText",
                                       "The audio device has no usable channels")),
        DeviceErrorReason.UNAVAILABLE: (
            QCoreApplication.translate("DeviceErrorText", "The audio device “%1” is busy or "
                                       "unavailable: another program may be using it"),
            QCoreApplication.translate("DeviceErrorText", "The audio device is busy or "
                                       "unavailable: another program may be using it")),
        DeviceErrorReason.UNPLUGGED: (
            QCoreApplication.translate("DeviceErrorText",
                                       "The audio device “%1” was unplugged or stopped working"),
            QCoreApplication.translate("DeviceErrorText",
                                       "The audio device was unplugged or stopped working")),
        DeviceErrorReason.UNSUPPORTED: (
            QCoreApplication.translate("DeviceErrorText", "The audio device “%1” does not "
                                       "accept the sound settings (sample rate, format or "
                                       "buffer size)"),
            QCoreApplication.translate("DeviceErrorText", "The audio device does not accept "
                                       "the sound settings (sample rate, format or buffer "
                                       "size)")),
        DeviceErrorReason.CLOSED: (
            QCoreApplication.translate("DeviceErrorText",
                                       "The audio device “%1” was already closed"),
            QCoreApplication.translate("DeviceErrorText", "The audio stream was already closed")),
    }
