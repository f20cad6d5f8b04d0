"""Is this the vendor's maintenance page (or recording)? One test for every probe that asks.

The login page, the help center and the support line's greeting all say so in words the target
configures (`maintenance_phrases`); the match ignores case, since vendors' pages vary it.
"""

from __future__ import annotations


def shows_maintenance(text: str, phrases: list[str]) -> str:
    """The first of `phrases` found in `text` (ignoring case), or "" when it shows none."""
    seen = text.lower()
    return next((phrase for phrase in phrases if phrase.lower() in seen), "")
