"""GraphiQL at `GET /graphql`, with every asset served from here: it works offline.

The page and its set-up script ship with the package (`ide_assets/`); GraphiQL, React and
graphql-ws come from the npm registry, installed into `graphiql/node_modules` by the
set-up (`scripts/serve`, `scripts/test`: `npm ci` in `graphiql/`), or from
`GRAPHQL_API_GRAPHIQL_ASSETS_DIR`. Only the files named here are served.
"""

from pathlib import Path

from fastapi import HTTPException
from fastapi.responses import FileResponse

HERE = Path(__file__).resolve().parent / "ide_assets"
DEFAULT_NODE_MODULES = Path(__file__).resolve().parents[3] / "graphiql" / "node_modules"
OWN = {"setup.js", "page.css"}
VENDOR = {
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphql-ws.min.js": "graphql-ws/umd/graphql-ws.min.js",
}
MISSING = """<!doctype html><html lang="en"><meta charset="utf-8"><title>GraphiQL</title>
<p>GraphiQL's files are not installed here. Run <code>scripts/serve</code> (it runs
<code>npm ci</code> in <code>graphiql/</code>), or set GRAPHQL_API_GRAPHIQL_ASSETS_DIR to a
<code>node_modules</code> folder with graphiql, react, react-dom and graphql-ws.</p>
"""
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def node_modules(configured: Path | None) -> Path:
    return configured if configured is not None else DEFAULT_NODE_MODULES


def page(configured: Path | None) -> str:
    """The page, or how to install what it needs."""
    folder = node_modules(configured)
    if all((folder / path).is_file() for path in VENDOR.values()):
        return (HERE / "index.html").read_text()
    return MISSING


def asset(name: str, configured: Path | None) -> FileResponse:
    if name in OWN:
        path = HERE / name
    elif name in VENDOR:
        path = node_modules(configured) / VENDOR[name]
    else:
        raise HTTPException(404, "No such GraphiQL file.")
    if not path.is_file():
        raise HTTPException(404, "GraphiQL's files are not installed.")
    # The vendor files are pinned by graphiql/package-lock.json; ours change with the code.
    cache = "public, max-age=86400" if name in VENDOR else "no-cache"
    return FileResponse(path, media_type=TYPES[path.suffix], headers={"Cache-Control": cache})
