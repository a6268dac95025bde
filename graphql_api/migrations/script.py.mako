<%
    import re

    def cleaned(code):
        """Autogenerate's commands without the markers it puts around them."""
        kept = [line for line in (code or "").split("\n") if not line.strip().startswith("# ###")]
        return "\n".join(kept).strip()

    upgrade_code, downgrade_code = cleaned(upgrades), cleaned(downgrades)
    body = upgrade_code + "\n" + downgrade_code
    uses_sa, uses_op = re.search(r"\bsa\.", body), re.search(r"\bop\.", body)
    # The project's own column types are rendered as `graphql_api.core.db.base.Money()`.
    modules = sorted(set(re.findall(r"\b(graphql_api(?:\.\w+)*)\.[A-Z]\w*\(", body)))
%>\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date.strftime("%Y-%m-%d")}
"""

from collections.abc import Sequence
% if uses_sa or uses_op or imports:

% endif
% if uses_sa:
import sqlalchemy as sa
% endif
% if uses_op:
from alembic import op
% endif
% if imports:
${imports}
% endif
% if modules:

% for module in modules:
import ${module}
% endfor
% endif

revision: str = "${up_revision}"
down_revision: str | None = ${'"%s"' % down_revision if down_revision else None}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrade_code or "pass"}


def downgrade() -> None:
    ${downgrade_code or "pass"}
