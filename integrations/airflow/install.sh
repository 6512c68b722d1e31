#!/usr/bin/env bash
# Builds the Python virtualenv the Airflow provider's tests run in: Airflow 3 and everything else pinned in
# requirements.txt, in the download cache (never in the repository). Idempotent: the virtualenv's directory is
# keyed by the hash of requirements.txt and of the Python version, and a finished one is reused at once.
#
# Prints the virtualenv's directory on its last line. Environment:
#   YARNGATE_CACHE    the download cache (default ~/.cache/yarngate)
#   YARNGATE_PYTHON   the Python to build it with (default python3; 3.10 to 3.12)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${YARNGATE_CACHE:-$HOME/.cache/yarngate}
python=${YARNGATE_PYTHON:-python3}
pip_version=26.3

pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
key=$( { cat "$here/requirements.txt"; echo "python $pyver pip $pip_version"; } | sha256sum | cut -c1-16)
venv=$cache/airflow/venv-py$pyver-$key

if [ -f "$venv/.complete" ]; then
  echo "$venv"
  exit 0
fi

mkdir -p "$cache/airflow"
# One builder at a time (parallel test packages may all ask); the others wait, then find it complete.
exec 9>"$cache/airflow/.install.lock"
flock 9
if [ -f "$venv/.complete" ]; then
  echo "$venv"
  exit 0
fi

echo "install.sh: building $venv (Airflow from requirements.txt)" >&2
start=$(date +%s)
# Built in place (venv scripts name their interpreter by absolute path); .complete marks a finished one, so a
# build cut short is removed and done again.
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "pip==$pip_version" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$here/requirements.txt" >&2
"$venv/bin/python" -m pip check >&2
touch "$venv/.complete"
echo "install.sh: built in $(( $(date +%s) - start ))s" >&2
echo "$venv"
