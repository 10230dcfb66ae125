"""Fail when schema.graphql breaks clients that the base branch's schema served.

    python .github/scripts/breaking_changes.py BASE_SCHEMA NEW_SCHEMA

Breaking changes (graphql-core's find_breaking_changes: a removed field, a changed type, a new required
argument, ...) exit 1 and are listed; dangerous ones (graphql-core's find_dangerous_changes: a new enum value,
a changed default) are printed but pass. ci.yml runs this on pull requests unless they carry the
`breaking-change` label.
"""

import sys
from pathlib import Path

from graphql import build_schema, find_breaking_changes, find_dangerous_changes


def main(argv: list[str]) -> int:
    base, new = (build_schema(Path(path).read_text()) for path in argv)
    for change in find_dangerous_changes(base, new):
        sys.stdout.write(f"dangerous: {change.type.name}: {change.description}\n")
    breaking = find_breaking_changes(base, new)
    for change in breaking:
        sys.stdout.write(f"BREAKING: {change.type.name}: {change.description}\n")
    if breaking:
        sys.stdout.write("Label the pull request `breaking-change` if clients are ready for it.\n")
    return 1 if breaking else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
