"""Secret redaction for the monitor: by field name, by known value, inside URLs and free text.

The redactor lives in :mod:`portico._secrets`, below every service, so that errors and stores apply the
very rules the log pipeline does; this module keeps the monitor's import path for it.
"""

from __future__ import annotations

from portico._secrets import MASK, Redactor, default_redactor, is_sensitive_key

__all__ = ["MASK", "Redactor", "default_redactor", "is_sensitive_key"]
