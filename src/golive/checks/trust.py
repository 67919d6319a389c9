"""Which certificate authorities HTTP and TLS checks trust: the system's, plus GOLIVE_CA_BUNDLE.

The system's store is the one `curl` and the operating system use, so an internal CA installed on
the machine is trusted as it is; OpenSSL reads SSL_CERT_FILE and SSL_CERT_DIR to replace it.
GOLIVE_CA_BUNDLE adds CAs for golive only: a PEM file, or a directory prepared with
`openssl rehash`.
"""

from __future__ import annotations

import os
import ssl

CA_BUNDLE = "GOLIVE_CA_BUNDLE"


class TrustError(Exception):
    """GOLIVE_CA_BUNDLE names something that cannot be loaded."""


def verifying_context() -> ssl.SSLContext:
    """A client context that verifies certificates and host names against the trusted CAs."""
    context = ssl.create_default_context()
    bundle = os.environ.get(CA_BUNDLE)
    if bundle:
        try:
            if os.path.isdir(bundle):
                context.load_verify_locations(capath=bundle)
            else:
                context.load_verify_locations(cafile=bundle)
        except OSError as exc:  # ssl.SSLError included: not PEM, no certificate in it
            reason = exc.strerror or str(exc)
            raise TrustError(f"{CA_BUNDLE}={bundle}: cannot load it: {reason}") from None
    return context
