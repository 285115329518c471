"""Taking secrets out of text Tower is about to publish: a command's output, a CI's failure detail,
a probe's error. Known secret values go, and so do credentials written into URLs."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter values would hide ordinary words

# user:password@ in a URL; the password may hold an unencoded '@', so it runs to the last one
# before the path.
_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*):[^\s/]*@")
_SECRET_PARAMETERS = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|pass|secret|token|access_token|api_key|apikey|key|sig|signature|auth)=)"
    r"[^&#\s]+",
    re.IGNORECASE,
)
_SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|_KEY$|^KEY_|APIKEY", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """Is an environment variable called `name` likely to hold a secret?"""
    return bool(_SECRET_NAMES.search(name))


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        values = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        self._secrets = sorted(values, key=len, reverse=True)  # a longer secret may contain a shorter one

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _URL_CREDENTIALS.sub(lambda m: f"{m['head']}:{MASK}@", text)
        return _SECRET_PARAMETERS.sub(lambda m: f"{m['head']}{MASK}", text)
