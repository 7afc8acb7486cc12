"""The `pinwheel-apt-demo` command line: `compare A B` and `selftest`.

`selftest` proves the three things this application exists to show: a
module only a Debian package provides (`apt_pkg`, python3-apt) imports
inside the virtual environment through its system site packages; a
dependency pinned by pinwheel (`idna`) imports from the virtual environment
itself, not from the system; and the configuration file the package
installs under /etc is readable. Each check prints one line; the exit code
is 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import os
import sys

CONFIG = "/etc/pinwheel-apt-demo/greeting.conf"


def apt_pkg_module():
    import apt_pkg

    apt_pkg.init()
    return apt_pkg


def check_apt_pkg() -> str:
    apt_pkg = apt_pkg_module()
    where = os.path.realpath(apt_pkg.__file__)
    if not where.startswith("/usr/lib/python3/dist-packages/"):
        raise AssertionError(f"apt_pkg comes from {where}, not Debian's python3-apt")
    # dpkg's order, which PEP 440 does not share: a tilde sorts first.
    if not apt_pkg.version_compare("1.7.0~rc1", "1.7.0") < 0:
        raise AssertionError("apt_pkg says 1.7.0~rc1 >= 1.7.0")
    if not apt_pkg.version_compare("1.7.0+trixie", "1.7.0+bookworm") > 0:
        raise AssertionError("apt_pkg says 1.7.0+trixie <= 1.7.0+bookworm")
    return f"apt_pkg {apt_pkg.VERSION} from {os.path.dirname(where)}"


def check_idna() -> str:
    import idna

    where = os.path.realpath(idna.__file__)
    if not where.startswith(os.path.realpath(sys.prefix) + "/"):
        raise AssertionError(f"idna comes from {where}, outside the virtual environment")
    if idna.encode("ドメイン.テスト") != b"xn--eckwd4c7c.xn--zckzah":
        raise AssertionError("idna.encode gave an unexpected result")
    return f"idna from {os.path.dirname(where)}"


def check_config() -> str:
    with open(CONFIG, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.partition("=")
            if sep and key.strip() == "greeting":
                return f"{CONFIG}: {value.strip()}"
    raise AssertionError(f"{CONFIG} has no greeting")


CHECKS = [("apt_pkg", check_apt_pkg), ("idna", check_idna), ("config", check_config)]


def selftest() -> int:
    failed = 0
    for name, check in CHECKS:
        try:
            print(f"ok   {name}: {check()}")
        except Exception as err:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {name}: {type(err).__name__}: {err}")
    print(f"{len(CHECKS) - failed} of {len(CHECKS)} checks passed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pinwheel-apt-demo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("selftest", help="check apt_pkg, idna and the configuration file")
    compare = sub.add_parser("compare", help="compare two Debian versions with apt_pkg")
    compare.add_argument("a")
    compare.add_argument("b")
    args = parser.parse_args(argv)
    if args.command == "selftest":
        return selftest()
    result = apt_pkg_module().version_compare(args.a, args.b)
    print(f"{args.a} {'<' if result < 0 else '>' if result > 0 else '='} {args.b}")
    return 0
