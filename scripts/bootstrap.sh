#!/usr/bin/env bash
# Create .venv from uv.lock (the one source of installed versions). Idempotent and quick when
# nothing changed. Needs only python3.11 and the package registries.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION=0.13.9
cd "$ROOT"

if command -v uv >/dev/null 2>&1; then
  UV=uv
else
  UV="$ROOT/.local/uv/bin/uv"
  if [ ! -x "$UV" ]; then
    echo "bootstrap: installing uv $UV_VERSION into .local/uv" >&2
    python3.11 -m venv "$ROOT/.local/uv"
    "$ROOT/.local/uv/bin/pip" install --quiet "uv==$UV_VERSION" 2> >(grep -v "is ignored: it is neither" >&2)
  fi
fi

export UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never UV_LINK_MODE="${UV_LINK_MODE:-copy}"
"$UV" sync --frozen --python python3.11 --quiet
