"""pinwheel's PEP 517 hook runner: calls a source tree's build backend directly.

Run with the target interpreter, standard library only, so that it can build
the build backends themselves (no pip, no build frontend):

    python3 pep517_runner.py get-requires SOURCE_DIR RESULT_JSON
    python3 pep517_runner.py build-wheel SOURCE_DIR WHEEL_DIR RESULT_JSON

`get-requires` writes the backend's `get_requires_for_build_wheel()` (the
PEP 518 `[build-system] requires` are the caller's business) as a JSON list
of PEP 508 strings; the caller checks them against what it has built and
names what is missing. `build-wheel` calls `build_wheel()` and writes
`{"wheel": NAME}`, and prints `wheel: NAME` on stdout.

The backend comes from `SOURCE_DIR/pyproject.toml` `[build-system]`
(`build-backend`, `backend-path` for self-hosting backends such as
flit_core, setuptools and hatchling); without a pyproject.toml, or without a
`build-backend`, it is setuptools' legacy backend (PEP 517's fallback).
Hooks run with the source tree as the working directory. Everything the
backend prints goes to stderr, so the caller can show it as the build log.

Exit codes: 0 ok; 1 the hook failed (traceback on stderr); 2 bad input
(usage, no pyproject.toml and no setup.py, a backend-path outside the tree,
a backend that cannot be imported).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import traceback

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"


class BadInput(Exception):
    """The source tree or the command line is unusable: exit 2."""


def read_build_system(source_dir: str) -> tuple[str, list[str]]:
    """The backend spec and backend-path of a source tree."""
    import tomllib

    pyproject = os.path.join(source_dir, "pyproject.toml")
    if not os.path.exists(pyproject):
        if not os.path.exists(os.path.join(source_dir, "setup.py")):
            raise BadInput(f"{source_dir}: neither pyproject.toml nor setup.py")
        return LEGACY_BACKEND, []
    try:
        with open(pyproject, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise BadInput(f"{pyproject}: {err}") from err
    table = data.get("build-system", {})
    if not isinstance(table, dict):
        raise BadInput(f"{pyproject}: [build-system] is not a table")
    backend = table.get("build-backend")
    if backend is None:
        if not os.path.exists(os.path.join(source_dir, "setup.py")):
            raise BadInput(f"{pyproject}: no build-backend and no setup.py")
        return LEGACY_BACKEND, []
    if not isinstance(backend, str) or not backend.strip():
        raise BadInput(f"{pyproject}: build-backend must be a string")
    paths = table.get("backend-path", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BadInput(f"{pyproject}: backend-path must be a list of strings")
    return backend.strip(), paths


def load_backend(source_dir: str, spec: str, backend_path: list[str]) -> object:
    """Imports `module:object.attr`, with backend-path entries first on sys.path."""
    root = os.path.realpath(source_dir)
    extra = []
    for entry in backend_path:
        path = os.path.realpath(os.path.join(root, entry))
        if path != root and not path.startswith(root + os.sep):
            raise BadInput(f"backend-path entry {entry!r} leaves the source tree")
        extra.append(path)
    sys.path[:0] = extra
    module_name, _, attrs = spec.partition(":")
    try:
        backend = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            backend = getattr(backend, attr)
    except Exception as err:  # noqa: BLE001 (any import failure is the same answer)
        traceback.print_exc()
        raise BadInput(f"build backend {spec!r} cannot be imported: {err}") from err
    if extra:
        # PEP 517: a backend named with backend-path must come from there.
        origin = os.path.realpath(getattr(sys.modules[module_name.strip()], "__file__", "") or "")
        if not any(origin.startswith(path + os.sep) for path in extra):
            raise BadInput(f"build backend {spec!r} was not loaded from its backend-path")
    return backend


def write_json(path: str, value: object) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(value, handle, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "get-requires":
        source_dir, wheel_dir, result = argv[1], None, argv[2]
    elif len(argv) == 4 and argv[0] == "build-wheel":
        source_dir, wheel_dir, result = argv[1], argv[2], argv[3]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    source_dir = os.path.abspath(source_dir)
    result = os.path.abspath(result)
    try:
        spec, backend_path = read_build_system(source_dir)
        os.chdir(source_dir)
        # Backends talk on stdout; keep stdout for our one result line.
        with contextlib.redirect_stdout(sys.stderr):
            backend = load_backend(source_dir, spec, backend_path)
            if wheel_dir is None:
                hook = getattr(backend, "get_requires_for_build_wheel", None)
                requires = list(hook(None)) if hook is not None else []
                if not all(isinstance(r, str) for r in requires):
                    raise BadInput(f"{spec}: get_requires_for_build_wheel returned {requires!r}")
                write_json(result, requires)
                return 0
            wheel_dir = os.path.abspath(wheel_dir)
            os.makedirs(wheel_dir, exist_ok=True)
            name = backend.build_wheel(wheel_dir, None, None)
        if (
            not isinstance(name, str)
            or os.sep in name
            or not name.endswith(".whl")
            or not os.path.isfile(os.path.join(wheel_dir, name))
        ):
            raise BadInput(f"{spec}: build_wheel returned {name!r}, which is not a wheel it wrote")
        write_json(result, {"wheel": name})
        print(f"wheel: {name}")
        return 0
    except BadInput as err:
        print(f"pep517_runner: {err}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001 (the backend failed; its traceback is the log)
        traceback.print_exc()
        print(f"pep517_runner: the build backend failed in {source_dir}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
