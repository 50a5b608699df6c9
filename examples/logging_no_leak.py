"""A logging setup that cannot leak secrets.

Configures logging, installs hardenkit's redacting filter on the root handlers, then logs
the usual ways secrets escape: a connection URL with a password, a token in a message
argument, a key in an exception's traceback, a child logger, a value passed with ``extra=``,
and a revealed ``Secret``. It checks that none of them reached the output and exits 0.
"""

from __future__ import annotations

import io
import logging
import sys

from hardenkit import Secret, install_redaction, mask_env

# Fake credentials (shaped like real ones, valid nowhere).
TOKEN = "ghp_" + "EXAMPLE0123456789abcdefghijklmnopqrst"[:36]
DB_URL = "postgres://app:EXAMPLE-db-pass-42@db.internal:5432/main"
API_KEY = Secret("EXAMPLE-api-key-7f3a9c")


def main() -> int:
    """Log secrets every usual way and prove none of them reached the output."""
    out = io.StringIO()
    logging.basicConfig(
        level=logging.DEBUG,
        format="%(levelname)s %(name)s: %(message)s",
        handlers=[logging.StreamHandler(out)],
        force=True,
    )
    install_redaction()  # every root handler; child loggers included

    log = logging.getLogger("example.db.pool")
    log.info("connecting to %s", DB_URL)
    log.debug("github auth with token=%s", TOKEN)
    log.info("calling the API with %s", API_KEY)  # shows ***
    log.warning("oops: %s", API_KEY.reveal())  # revealed by mistake: still masked
    log.info("request", extra={"authorization": f"Bearer {TOKEN}"})
    try:
        msg = f"upstream rejected {TOKEN}"
        raise PermissionError(msg)  # noqa: TRY301 -- the traceback is what we log
    except PermissionError:
        log.exception("sync failed")
    log.info("environment: %s", mask_env({"DATABASE_URL": DB_URL, "HOME": "/srv/app"}))

    text = out.getvalue()
    print(text, end="")
    leaked = [s for s in (TOKEN, "EXAMPLE-db-pass-42", API_KEY.reveal()) if s in text]
    if leaked:
        print(f"LEAKED {len(leaked)} secret(s)", file=sys.stderr)
        return 1
    print("no secret reached the log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
