# Sourced by scripts/demo and scripts/test: the project's own virtualenv, .venv/, made with
# `python3 -m venv` (no system site-packages), so a dependency that pyproject.toml does not
# declare fails here as it would on a clean machine. It is reused while pyproject.toml's
# requirements (and the Python it was made from) stay the same, and made anew when they change.
# Afterwards .venv/bin comes first on PATH: python, pip, mm2plan, ruff, mypy, pytest are its own.

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  { echo "mm2plan needs Python 3.11 or later as python3 (found: $(python3 --version 2>&1))" >&2; exit 1; }

_mm2plan_requirements() {
  # Everything pip reads from pyproject.toml to install: not the [tool.*] tables of linters.
  python3 - <<'PY'
import hashlib, json, sys, tomllib

with open("pyproject.toml", "rb") as f:
    doc = tomllib.load(f)
what = {key: value for key, value in doc.items() if key != "tool"}
what["tool.setuptools"] = doc.get("tool", {}).get("setuptools")
what["python"] = [sys.version, sys.base_prefix]
print(hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest())
PY
}

unset PYTHONHOME PYTHONPATH  # nothing from outside the virtualenv
exec 9<pyproject.toml && flock 9  # one install at a time (two scripts in the same tree)
_want="$(_mm2plan_requirements)"
if [[ ! -x .venv/bin/python || "$(cat .venv/.mm2plan-requirements 2>/dev/null)" != "$_want" ]]; then
  echo "== installing mm2plan with its dev tools into a fresh .venv/"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  echo "$_want" > .venv/.mm2plan-requirements  # written last: a failed install is redone
fi
flock -u 9 && exec 9<&-
unset _want
export VIRTUAL_ENV="$PWD/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
hash -r
