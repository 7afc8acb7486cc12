#!/usr/bin/env bash
# Regenerates the lock test data with the real lockers, then the truth files
# with pip on the target interpreter (see README.md). Needs the network
# (PyPI). Run from anywhere: crates/pinwheel-pypa/test_data/locks/generate.sh
# `generate.sh poetry1` remakes only the Poetry 1.x locks (CASE/poetry1/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${LOCKERS_VENV:-/tmp/pinwheel-lockers}
poetry1_venv=${POETRY1_VENV:-/tmp/pinwheel-poetry1}
steps=${1:-all}
# Nothing from this machine's pip configuration may reach the outputs.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL UV_INDEX_URL UV_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null

# Poetry 1.x (lock-version 2.0 without groups) for the same projects, written
# in the form Poetry 1.x reads (CASE/poetry1/pyproject.toml); pip resolves
# the project of CASE/pyproject.toml against it (truth/poetry1/poetry.lock.txt).
poetry1() {
    if [ ! -x "$poetry1_venv/bin/poetry" ]; then
        /usr/bin/python3 -m venv "$poetry1_venv"
        "$poetry1_venv/bin/pip" install -q pip==26.3
        "$poetry1_venv/bin/pip" install -q poetry==1.8.5 poetry-plugin-export==1.8.0
    fi
    for case in extras-markers fork wheel-only; do
        work=$(mktemp -d)
        mkdir "$work/poetry1"
        cp "$here/$case/pyproject.toml" "$work/"
        cp "$here/$case/poetry1/pyproject.toml" "$work/poetry1/"
        (cd "$work/poetry1" && "$poetry1_venv/bin/poetry" lock -q -n)
        (cd "$work" && PATH="$poetry1_venv/bin:$PATH" "$poetry1_venv/bin/python" "$here/truth.py" . poetry1/poetry.lock)
        cp "$work/poetry1/poetry.lock" "$here/$case/poetry1/"
        rm -rf "$here/$case/truth/poetry1"
        cp -r "$work/truth/poetry1" "$here/$case/truth/"
        # The files of the versions it installs join the index stand-in.
        LC_ALL=C sort -u "$here/$case/truth/index.txt" "$work/truth/index.txt" -o "$here/$case/truth/index.txt"
        rm -rf "$work"
    done
}
if [ "$steps" = poetry1 ]; then
    poetry1
    exit
fi

# The lockers, in a virtual environment of the target interpreter (Debian
# 12's CPython 3.11.2): pip-compile and pip resolve for the interpreter
# they run on.
if [ ! -x "$venv/bin/uv" ]; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q pip==26.3
    "$venv/bin/pip" install -q uv==0.13.9 poetry==2.5.1 poetry-plugin-export==1.10.1 pip-tools==7.6.2
fi
export PATH="$venv/bin:$PATH"

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
poetry1
