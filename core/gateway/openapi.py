"""``python -m portico.gateway.openapi [FILE]``: write the gateway's OpenAPI document (stdout without FILE)."""

from __future__ import annotations

import sys
from pathlib import Path

from portico.gateway._openapi import openapi_document, openapi_text

__all__ = ["main", "openapi_document", "openapi_text"]


def main(argv: list[str] | None = None) -> int:
    """Write the document to the file named in ``argv`` (or print it)."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        Path(args[0]).write_text(openapi_text(), encoding="utf-8")
    else:
        sys.stdout.write(openapi_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
