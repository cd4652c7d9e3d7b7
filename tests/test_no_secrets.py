"""No secret is committed: every tracked text file is scanned for credential formats (cloud
keys, private keys, tokens) and for passwords or secrets given a literal value in
configuration. Secrets come from the environment (`.env`, `.local/stack/secrets.env`, both
ignored by git). The scanner is shown to catch what it looks for."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

#: Credential formats, anywhere.
FORMATS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/\w+"),
    "URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:[^\s@/'\"$]{6,}@"),
}
#: `password = value` and the like in configuration: a literal of 8+ characters.
ASSIGNED = re.compile(
    r"(?i)\b[\w.-]*(password|passwd|secret|token|api_key|secret_key)(?:[ \t]*=|:)[ \t]*"
    r"[\"']?(?P<value>[^\s\"'#,}]{8,})"
)
CONFIG_SUFFIXES = {".yml", ".yaml", ".env", ".ini", ".cfg", ".toml", ".conf", ".json", ".sh"}
#: Values that name a secret rather than hold one.
NOT_A_VALUE = re.compile(r"^(\$|\{|<|os\.environ|environ|secrets\.|None|null|true|false)")


def findings(path: str, text: str) -> list[str]:
    found = [
        f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {name}"
        for name, pattern in FORMATS.items()
        for m in pattern.finditer(text)
    ]
    if Path(path).suffix in CONFIG_SUFFIXES or Path(path).name.startswith(".env"):
        for m in ASSIGNED.finditer(text):
            if not NOT_A_VALUE.match(m.group("value")):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path}:{line}: {m.group(1)} with a literal value")
    return found


def _tracked() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return listed.stdout.splitlines()


def test_no_secret_is_committed():
    found = []
    for path in _tracked():
        file = REPO_ROOT / path
        if not file.is_file() or file.stat().st_size > 2_000_000:
            continue
        try:
            text = file.read_text()
        except UnicodeDecodeError:
            continue
        found += findings(path, text)
    assert not found, "secret-looking strings committed:\n" + "\n".join(found)


def test_the_scanner_finds_what_it_looks_for():
    # Built from pieces, so this file does not hold what it plants.
    assert findings("x.py", "key = '" + "AKIA" + "ABCDEFGHIJKLMNOP'")
    assert findings("x.md", "-----BEGIN RSA " + "PRIVATE KEY-----")
    assert findings("x.py", "uri = 'postgresql://airflow:" + "s3cr3t-pass@db/airflow'")
    assert findings(".env", "POSTGRES_PASSWORD=hunter2hunter2")
    assert findings("c.yml", "admin_password: correcthorse")
    assert not findings(".env.example", "POSTGRES_PASSWORD=")
    assert not findings("c.yml", "password: ${POSTGRES_PASSWORD:?set it}")
    assert not findings("x.py", "uri = f'redis://:{password}@host'")
