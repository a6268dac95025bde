# Sourced by the scripts here: makes .venv from a lock file and keeps it in step.
# Needs only Python 3.11+ with pip and venv; set PYTHON to choose the interpreter.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

ensure_venv() {
    local lock="$1"
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "graphql_api needs Python 3.11 or newer as '$python' (set PYTHON=...)." >&2
        exit 1
    fi
    [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
    local stamp="$VENV/.installed-$(basename "$lock" .txt)"
    local want
    want="$(cat "$ROOT/$lock" "$ROOT/pyproject.toml" | sha256sum | cut -c1-32)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "Installing dependencies from $lock into .venv ..." >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/$lock"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$ROOT"
        echo "$want" > "$stamp"
    fi
}
