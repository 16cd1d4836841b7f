#!/usr/bin/env bash
# Creates bench/.venv-moyskladapi (Python >= 3.12, which `moyskladapi` requires) for the async peer.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py=""
for cand in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    py="$cand"; break
  fi
done
if [ -z "$py" ]; then echo "no Python >= 3.12 on this machine: the moyskladapi peer is skipped" >&2; exit 1; fi
"$py" -m venv "$here/.venv-moyskladapi"
"$here/.venv-moyskladapi/bin/pip" install -q "moyskladapi>=0.14,<1"
"$here/.venv-moyskladapi/bin/python" -c 'import importlib.metadata as m; print("moyskladapi", m.version("moyskladapi"))'
