"""Print the requirement the [dev] extra in pyproject.toml gives for one package (e.g. ``ruff==0.17.6``).

CI installs its linter from here so that the version it runs is the one developers pin.
"""

import re
import sys
from pathlib import Path

import tomllib

name = sys.argv[1]
dev = tomllib.loads(Path("pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
for requirement in dev:
    if re.match(rf"{re.escape(name)}\b", requirement):
        print(requirement)
        break
else:
    sys.exit(f"pyproject.toml: no requirement for {name!r} in the [dev] extra")
