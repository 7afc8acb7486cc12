#!/usr/bin/env bash
# Regenerates the lock test data with the real lockers, then the truth files
# with pip on the target interpreter (see README.md). Needs the network
# (PyPI). Run from anywhere: crates/pinwheel-pypa/test_data/locks/generate.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${LOCKERS_VENV:-/tmp/pinwheel-lockers}

# The lockers, in a virtual environment of the target interpreter (Debian
# 12's CPython 3.11.2): pip-compile and pip resolve for the interpreter
# they run on.
if [ ! -x "$venv/bin/uv" ]; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q pip==26.3
    "$venv/bin/pip" install -q uv==0.13.9 poetry==2.5.1 poetry-plugin-export==1.10.1 pip-tools==7.6.2
fi
export PATH="$venv/bin:$PATH"
# Nothing from this machine's pip configuration may reach the outputs.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL UV_INDEX_URL UV_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null

for case in extras-markers fork wheel-only; do
    work=$(mktemp -d)
    cp "$here/$case/pyproject.toml" "$work/"
    (
        cd "$work"
        uv lock -q
        poetry lock -q
        uv export -q --frozen --no-dev -o uv-export.txt
        uv export -q --frozen --no-dev --format pylock.toml -o pylock.toml
        pip-compile -q --no-strip-extras --generate-hashes --output-file pip-compile.txt pyproject.toml
        rm -rf truth
        for lock in uv.lock poetry.lock pylock.toml uv-export.txt pip-compile.txt; do
            python "$here/truth.py" . "$lock"
        done
    )
    rm -rf "$here/$case/truth"
    cp -r "$work"/{uv.lock,poetry.lock,uv-export.txt,pylock.toml,pip-compile.txt,truth} "$here/$case/"
    rm -rf "$work"
done
