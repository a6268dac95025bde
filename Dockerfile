# syntax=docker/dockerfile:1
# Build: docker build -t graphql-api .
# Run:   docker run -p 8000:8000 -e GRAPHQL_API_SECRET_KEY=... -e DATABASE_URL=... graphql-api

# GraphiQL's browser files, from the npm registry (pinned by graphiql/package-lock.json).
FROM node:20-slim AS graphiql
WORKDIR /graphiql
COPY graphiql/package.json graphiql/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN python -m venv /opt/venv
COPY requirements/base.txt requirements/base.txt
RUN /opt/venv/bin/pip install -r requirements/base.txt
COPY pyproject.toml README.md ./
COPY graphql_api graphql_api
RUN /opt/venv/bin/pip install --no-deps .

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    GRAPHQL_API_ENV=production GRAPHQL_API_GRAPHIQL_ASSETS_DIR=/opt/graphiql
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/data && chown app /app/data
COPY --from=build /opt/venv /opt/venv
# Only the five files GraphiQL's page loads (graphql_api/core/http/ide.py); GraphiQL is off in
# production unless GRAPHQL_API_GRAPHIQL=true.
COPY --from=graphiql /graphiql/node_modules/graphiql/graphiql.min.js /graphiql/node_modules/graphiql/graphiql.min.css /opt/graphiql/graphiql/
COPY --from=graphiql /graphiql/node_modules/react/umd/react.production.min.js /opt/graphiql/react/umd/
COPY --from=graphiql /graphiql/node_modules/react-dom/umd/react-dom.production.min.js /opt/graphiql/react-dom/umd/
COPY --from=graphiql /graphiql/node_modules/graphql-ws/umd/graphql-ws.min.js /opt/graphiql/graphql-ws/umd/
WORKDIR /app/data
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=2).status != 200)"]
CMD ["sh", "-c", "graphql-api migrate && exec graphql-api serve --host 0.0.0.0 --port 8000 --workers ${WORKERS:-1}"]
