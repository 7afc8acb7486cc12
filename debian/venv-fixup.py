#!/usr/bin/python3
"""Make a virtual environment built at BUILT runnable at FINAL, and deterministic.

usage: venv-fixup.py BUILT FINAL FORBIDDEN...

pip and venv write the directory they ran in into the environment: script
shebangs (a plain "#!BUILT/bin/python", or distlib's /bin/sh trampoline when
that path is long or has spaces), pyvenv.cfg and the activate scripts. This
rewrites each of those to FINAL, brings the RECORD of every rewritten script
up to date (sha256 and size), removes bytecode caches, empty directories and
the .gitignore that Python 3.13's venv writes, makes every file under lib/
mode 0644 (wheels carry stray executable bits), and then fails if any
FORBIDDEN string (the build directory) is still found in a file's bytes or a
symlink's target, or if any direct_url.json exists.
"""

import base64
import csv
import hashlib
import io
import os
import re
import shutil
import sys

# distlib's trampoline for interpreters whose path cannot go in a shebang.
TRAMPOLINE = re.compile(rb"\A#!/bin/sh\n'''exec' \"?(?P<exe>[^\n\"]+)\"? \"\$0\" \"\$@\"\n' '''\n")
SHEBANG = re.compile(rb"\A#!(?P<exe>[^\s]+)[^\n]*\n")


def fail(msg):
    print(f"venv-fixup: {msg}", file=sys.stderr)
    sys.exit(1)


def walk(top):
    """Every path under top, sorted, directories before their contents."""
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            yield os.path.join(dirpath, name)


def fix_scripts(built, final):
    """Rewrites bin/: returns the set of absolute paths changed."""
    changed = set()
    bindir = os.path.join(built, "bin")
    old, new = built.encode(), final.encode()
    for name in sorted(os.listdir(bindir)):
        path = os.path.join(bindir, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        fixed = data
        m = TRAMPOLINE.match(data) or SHEBANG.match(data)
        if m and m.group("exe").startswith(old + b"/"):
            exe = new + m.group("exe")[len(old):]
            fixed = b"#!" + exe + b"\n" + data[m.end():]
        fixed = fixed.replace(old, new)
        if fixed != data:
            mode = os.stat(path).st_mode
            with open(path, "wb") as f:
                f.write(fixed)
            os.chmod(path, mode)
            changed.add(path)
    return changed


def record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def fix_records(built, changed):
    """Updates RECORD rows of changed files (paths relative to site-packages)."""
    for path in walk(os.path.join(built, "lib")):
        if not (path.endswith(".dist-info/RECORD") and os.path.isfile(path)):
            continue
        site = os.path.dirname(os.path.dirname(path))
        with open(path, "rb") as f:
            raw = f.read()
        newline = "\r\n" if b"\r\n" in raw else "\n"
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
        touched = False
        for row in rows:
            if not row:
                continue
            target = os.path.normpath(os.path.join(site, row[0]))
            if target in changed:
                with open(target, "rb") as f:
                    data = f.read()
                row[1:3] = [record_hash(data), str(len(data))]
                touched = True
        if touched:
            out = io.StringIO(newline="")
            csv.writer(out, lineterminator=newline).writerows(rows)
            with open(path, "wb") as f:
                f.write(out.getvalue().encode("utf-8"))


def fix_cfg(built, final):
    path = os.path.join(built, "pyvenv.cfg")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data.replace(built.encode(), final.encode()))


def remove_venv_gitignore(built):
    """Python 3.13's venv writes a ".gitignore" of "*" at the venv's top, for
    a venv made inside a git checkout; an installed venv is not one, and
    lintian flags a VCS control file in a package. No wheel installs it."""
    path = os.path.join(built, ".gitignore")
    if os.path.isfile(path) and not os.path.islink(path):
        os.remove(path)


def remove_caches_and_empty_dirs(built):
    for path in sorted(walk(built), reverse=True):
        if os.path.islink(path):
            continue
        if os.path.isdir(path) and os.path.basename(path) == "__pycache__":
            shutil.rmtree(path)
        elif path.endswith((".pyc", ".pyo")) or os.path.basename(path) == "pip-selfcheck.json":
            os.remove(path)
        elif os.path.isdir(path) and not os.listdir(path):
            os.rmdir(path)


def normalize_modes(built):
    """Library files are never executed directly: 0644 under lib/ (dh_fixperms
    then normalizes directories and ownership)."""
    for path in walk(os.path.join(built, "lib")):
        if os.path.isfile(path) and not os.path.islink(path):
            os.chmod(path, 0o644)


def check(built, forbidden):
    found = []
    needles = [s.encode() for s in forbidden]
    for path in walk(built):
        rel = os.path.relpath(path, built)
        if os.path.basename(path) == "direct_url.json":
            found.append(f"{rel} (direct_url.json records where a file was installed from)")
        if os.path.islink(path):
            data = os.readlink(path).encode()
        elif os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read()
        else:
            continue
        for needle in needles:
            if needle in data:
                found.append(f"{rel} (contains {needle.decode()})")
    if found:
        fail("the build directory leaked into the package: " + "; ".join(found))


def main(argv):
    if len(argv) < 3:
        fail("usage: venv-fixup.py BUILT FINAL FORBIDDEN...")
    built, final, forbidden = os.path.abspath(argv[0]), argv[1], argv[2:]
    changed = fix_scripts(built, final)
    fix_records(built, changed)
    fix_cfg(built, final)
    remove_venv_gitignore(built)
    remove_caches_and_empty_dirs(built)
    normalize_modes(built)
    check(built, [built] + forbidden)


if __name__ == "__main__":
    main(sys.argv[1:])
