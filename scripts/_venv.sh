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

# GraphiQL's browser files, from the npm registry into graphiql/node_modules (served by
# graphql_api itself: no CDN at page load). Without npm, GraphiQL says how to add them.
ensure_graphiql() {
    local folder="$ROOT/graphiql"
    # npm ci rewrites node_modules/.package-lock.json: once newer than the lock, it is done.
    if [ "$folder/node_modules/.package-lock.json" -nt "$folder/package-lock.json" ]; then
        return
    fi
    if ! command -v npm >/dev/null; then
        echo "npm not found: GraphiQL's files are not installed (the API works without them)." >&2
        return
    fi
    echo "Installing GraphiQL's files from npm into graphiql/node_modules ..." >&2
    npm ci --prefix "$folder" --no-audit --no-fund --loglevel=error >&2
}
