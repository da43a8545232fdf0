"""PyInstaller runtime hook (Linux): find the system's CA certificates on any distribution.

A Linux bundle carries the build machine's OpenSSL (``libssl.so.3``), which looks
for the trusted CA certificates where *its* distribution keeps them: Debian's
``/usr/lib/ssl/cert.pem`` and ``/usr/lib/ssl/certs``. Fedora, RHEL, openSUSE,
Arch or Alpine keep them elsewhere, so there a client connecting with TLS and
the system's trust (no CA file, no fingerprint) would refuse every server
certificate, even one from a public CA ("unable to get local issuer certificate").

When neither of OpenSSL's compiled-in locations exists and the user has not
chosen with ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, this hook points
``SSL_CERT_FILE`` at the first CA bundle of the known locations that exists
(the list Go's crypto/x509 uses). On the build's own distribution nothing changes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

# Where distributions keep the bundle of trusted CA certificates, most common first.
CA_BUNDLES: tuple[str, ...] = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Gentoo, Arch (link)
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL, CentOS
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS, RHEL 7
    "/etc/ssl/cert.pem",  # Alpine, Arch
)


def ca_bundle_to_use(
    environ: Mapping[str, str],
    default_cafile: str | None,
    default_capath: str | None,
    candidates: Sequence[str] = CA_BUNDLES,
) -> str | None:
    """The CA bundle to export as ``SSL_CERT_FILE``, or None when OpenSSL finds its own."""
    if environ.get("SSL_CERT_FILE") or environ.get("SSL_CERT_DIR"):
        return None  # the user's choice
    if (default_cafile and os.path.isfile(default_cafile)) or (
        default_capath and os.path.isdir(default_capath)
    ):
        return None  # the build's distribution, or one laid out like it
    return next((path for path in candidates if os.path.isfile(path)), None)


def _install() -> None:
    import ssl

    paths = ssl.get_default_verify_paths()
    chosen = ca_bundle_to_use(os.environ, paths.openssl_cafile, paths.openssl_capath)
    if chosen is not None:
        os.environ["SSL_CERT_FILE"] = chosen


if getattr(sys, "frozen", False) and sys.platform.startswith("linux"):
    _install()
