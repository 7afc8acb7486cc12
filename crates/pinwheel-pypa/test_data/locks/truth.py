"""Computes, independently of pinwheel, what a lock installs on the target.

Run by generate.sh with the target interpreter (Debian 12's /usr/bin/python3,
CPython 3.11.2, linux x86_64) inside the lockers' virtual environment:

    python truth.py CASE_DIR LOCKFILE

LOCKFILE is relative to CASE_DIR; a lock in a subdirectory (poetry1/poetry.lock)
is exported there, and pip still resolves the project of CASE_DIR/pyproject.toml.

1. The locker's own export turns the lock into `name==version ; marker`
   lines (uv export / poetry export; pylock.toml and requirements files are
   read directly).
2. pip resolves the project's direct dependencies on the target with those
   lines as constraints (`pip install --dry-run --ignore-installed
   --report`): that is the set pip would install.
3. The Simple API (PEP 691 JSON) of the index names each file of each
   resolved version and its sha256: the sdists are the pins; a package
   without an sdist gets its wheels (pinwheel's wheel-only mode).

Writes CASE_DIR/truth/LOCKFILE.txt (one line per file:
`name version sdist|wheel sha256 filename`) and adds every file of every
resolved version to CASE_DIR/truth/index.txt, the offline stand-in for the
index used by the tests of requirements.txt locks.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import urllib.request

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

INDEX = "https://pypi.org/simple/"


def export_lines(case, lock):
    """`name==version ; marker` lines for every package of the lock."""
    path = os.path.join(case, lock)
    if lock == "uv.lock":
        out = subprocess.run(
            ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project",
             "--no-header", "--no-annotate"],
            cwd=case, check=True, capture_output=True, text=True).stdout
        return [l for l in out.splitlines() if l and not l.startswith("#")]
    if os.path.basename(lock) == "poetry.lock":
        out = subprocess.run(
            ["poetry", "export", "--only", "main", "--without-hashes", "-f", "requirements.txt"],
            cwd=os.path.join(case, os.path.dirname(lock)), check=True, capture_output=True,
            text=True).stdout
        return [l for l in out.splitlines() if l and not l.startswith(("#", "--"))]
    if lock.endswith(".toml"):
        with open(path, "rb") as f:
            data = tomllib.load(f)
        lines = []
        for p in data["packages"]:
            line = f"{p['name']}=={p['version']}"
            if "marker" in p:
                line += f" ; {p['marker']}"
            lines.append(line)
        return lines
    # A hashed requirements file: join continuations, drop options and comments.
    text = open(path).read().replace("\\\n", " ")
    lines = []
    for l in text.splitlines():
        l = re.sub(r"(^|\s)#.*", "", l)
        l = re.sub(r"--hash=\S+", "", l).strip()
        if l and not l.startswith("-"):
            lines.append(l)
    return lines


def resolve_with_pip(case, lines):
    """What pip installs on this interpreter for the project's direct
    dependencies, constrained to the lock's pins."""
    with open(os.path.join(case, "pyproject.toml"), "rb") as f:
        direct = tomllib.load(f)["project"]["dependencies"]
    with tempfile.TemporaryDirectory() as tmp:
        constraints = os.path.join(tmp, "constraints.txt")
        with open(constraints, "w") as f:
            # pip's constraints take no extras.
            f.write("\n".join(re.sub(r"\[[^\]]*\]", "", l) for l in lines) + "\n")
        report = os.path.join(tmp, "report.json")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_FIND_LINKS")}
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
             "--report", report, "-c", constraints, *direct],
            check=True, env=env)
        with open(report) as f:
            data = json.load(f)
    return sorted((canonicalize_name(i["metadata"]["name"]), i["metadata"]["version"]) for i in data["install"])


def marker_set(lines):
    """The pins whose markers hold on this interpreter."""
    out = set()
    for l in lines:
        req = Requirement(l)
        if req.marker is None or req.marker.evaluate():
            (spec,) = req.specifier
            out.add((canonicalize_name(req.name), spec.version))
    return sorted(out)


def index_files(name):
    req = urllib.request.Request(INDEX + name + "/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)["files"]


def main():
    case, lock = sys.argv[1], sys.argv[2]
    lines = export_lines(case, lock)
    resolved = resolve_with_pip(case, lines)
    by_markers = marker_set(lines)
    if resolved != by_markers:
        sys.exit(f"{case}/{lock}: pip resolved {resolved}, the lock's markers give {by_markers}")
    os.makedirs(os.path.dirname(os.path.join(case, "truth", lock)), exist_ok=True)
    truth, index = [], set()
    for name, version in resolved:
        sdists, wheels = [], []
        for f in index_files(name):
            fn = f["filename"]
            if fn.endswith(".whl"):
                n, v, _, _ = parse_wheel_filename(fn)
                kind = wheels
            else:
                try:
                    n, v = parse_sdist_filename(fn)
                except Exception:
                    continue
                kind = sdists
            if n == name and str(v) == version:
                kind.append((f["hashes"]["sha256"], fn))
                index.add(f"{name} {version} {f['hashes']['sha256']} {fn}")
        for sha, fn in sorted(sdists or wheels):
            truth.append(f"{name} {version} {'sdist' if sdists else 'wheel'} {sha} {fn}")
    with open(os.path.join(case, "truth", lock + ".txt"), "w") as f:
        f.write("\n".join(truth) + "\n")
    index_path = os.path.join(case, "truth", "index.txt")
    if os.path.exists(index_path):
        index |= set(open(index_path).read().split("\n")) - {""}
    with open(index_path, "w") as f:
        f.write("\n".join(sorted(index)) + "\n")
    print(f"{case}/{lock}: {len(resolved)} packages")


main()
