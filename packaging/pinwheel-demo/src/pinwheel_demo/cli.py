"""The `pinwheel-demo` command line: `--version` and `selftest`.

`selftest` imports and exercises every runtime dependency. It talks to
nothing but servers it starts itself on 127.0.0.1, so it runs offline, in a
Debian package build and in CI alike. Each check prints one line; the exit
code is 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import socketserver
import sys
import threading
import traceback
from typing import Callable

from pinwheel_demo import __version__


def check_markupsafe() -> str:
    import markupsafe

    # MarkupSafe falls back to pure Python silently when its C extension is
    # missing; we ship the compiled one, so insist on it.
    if "markupsafe._speedups" not in sys.modules:
        raise AssertionError("markupsafe._speedups (the C extension) is not loaded")
    speedups = sys.modules["markupsafe._speedups"]
    if not str(getattr(speedups, "__file__", "")).endswith(".so"):
        raise AssertionError(f"markupsafe._speedups is not compiled: {speedups!r}")
    escaped = markupsafe.escape("<script>alert('x') & \"y\"</script>")
    expected = "&lt;script&gt;alert(&#39;x&#39;) &amp; &#34;y&#34;&lt;/script&gt;"
    if str(escaped) != expected:
        raise AssertionError(f"escape gave {escaped!r}")
    markup = markupsafe.Markup("<em>%s</em>") % "<b>"
    if str(markup) != "<em>&lt;b&gt;</em>":
        raise AssertionError(f"Markup formatting gave {markup!r}")
    return f"MarkupSafe {markupsafe_version()} with C speedups"


def markupsafe_version() -> str:
    from importlib.metadata import version

    return version("MarkupSafe")


def check_idna() -> str:
    import idna

    encoded = idna.encode("ドメイン.テスト")
    if encoded != b"xn--eckwd4c7c.xn--zckzah":
        raise AssertionError(f"idna.encode gave {encoded!r}")
    if idna.decode(encoded) != "ドメイン.テスト":
        raise AssertionError("idna round trip failed")
    try:
        idna.encode("a..b")
    except idna.IDNAError:
        pass
    else:
        raise AssertionError("idna accepted an empty label")
    return f"idna {idna.__version__}"


def check_charset_normalizer() -> str:
    import charset_normalizer

    text = "Le cœur déçu mais l'âme plutôt naïve, Louÿs rêva de crapaüter en canoë au delà des îles."
    best = charset_normalizer.from_bytes(text.encode("cp1252")).best()
    if best is None or str(best) != text:
        raise AssertionError(f"charset_normalizer decoded {best!r}")
    return f"charset-normalizer {charset_normalizer.__version__} (detected {best.encoding})"


def check_certifi() -> str:
    import certifi

    where = certifi.where()
    with open(where, encoding="ascii") as bundle:
        count = bundle.read().count("-----BEGIN CERTIFICATE-----")
    if count < 50:
        raise AssertionError(f"{where} holds only {count} certificates")
    return f"certifi {certifi.__version__} ({count} CA certificates)"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = "héllo from 127.0.0.1".encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")  # no charset: requests must guess
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def check_requests() -> str:
    import requests
    import urllib3

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hello?x=1"
        with requests.Session() as session:
            session.trust_env = False  # ignore proxies from the environment
            response = session.get(url, timeout=10)
        response.raise_for_status()
        response.encoding = response.apparent_encoding  # charset-normalizer
        if response.text != "héllo from 127.0.0.1":
            raise AssertionError(f"got {response.text!r}")
        if not os.path.exists(requests.certs.where()):
            raise AssertionError("requests has no CA bundle")
    finally:
        server.shutdown()
        server.server_close()
    return f"requests {requests.__version__} over urllib3 {urllib3.__version__}"


def check_pexpect() -> str:
    import pexpect
    import ptyprocess

    child = pexpect.spawn(
        sys.executable,
        ["-c", "import sys; name = input('name? '); print('hello', name.upper())"],
        encoding="utf-8",
        timeout=20,
    )
    try:
        child.expect_exact("name? ")
        child.sendline("pinwheel")
        child.expect_exact("hello PINWHEEL")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    if child.exitstatus != 0:
        raise AssertionError(f"child exited {child.exitstatus}")
    proc = ptyprocess.PtyProcessUnicode.spawn(["/bin/sh", "-c", "tty >/dev/null && echo tty-ok"])
    output = proc.read()
    proc.wait()
    if "tty-ok" not in output:
        raise AssertionError(f"ptyprocess child had no terminal: {output!r}")
    return f"pexpect {pexpect.__version__} with ptyprocess {ptyprocess.__version__}"


class _RespHandler(socketserver.StreamRequestHandler):
    """A tiny in-memory server speaking RESP2: PING, SET, GET, DEL, INCR(BY)."""

    def handle(self) -> None:
        store: dict[bytes, bytes] = self.server.store  # type: ignore[attr-defined]
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if not line.startswith(b"*"):
                self.wfile.write(b"-ERR inline commands unsupported\r\n")
                return
            args = []
            for _ in range(int(line[1:])):
                size = int(self.rfile.readline()[1:])
                args.append(self.rfile.read(size + 2)[:-2])
            self.wfile.write(self.reply(store, args))

    @staticmethod
    def reply(store: dict[bytes, bytes], args: list[bytes]) -> bytes:
        command = args[0].upper()
        if command == b"PING":
            return b"+PONG\r\n"
        if command == b"SET":
            store[args[1]] = args[2]
            return b"+OK\r\n"
        if command == b"GET":
            value = store.get(args[1])
            return b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)
        if command in (b"INCR", b"INCRBY"):
            value = int(store.get(args[1], b"0")) + (int(args[2]) if len(args) > 2 else 1)
            store[args[1]] = b"%d" % value
            return b":%d\r\n" % value
        if command == b"DEL":
            return b":%d\r\n" % sum(1 for key in args[1:] if store.pop(key, None) is not None)
        if command == b"CLIENT":
            return b"+OK\r\n"
        return b"-ERR unknown command '%s'\r\n" % command


def check_redis() -> str:
    import redis

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RespHandler)
    server.daemon_threads = True
    server.store = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # RESP2: what every Redis server speaks (newer clients default to RESP3).
        client = redis.Redis(
            host="127.0.0.1", port=server.server_address[1], socket_timeout=10, protocol=2
        )
        try:
            if client.ping() is not True:
                raise AssertionError("PING did not answer PONG")
            client.set("greeting", "hello")
            if client.get("greeting") != b"hello":
                raise AssertionError("GET did not return what SET stored")
            if client.incr("counter") != 1 or client.incr("counter") != 2:
                raise AssertionError("INCR miscounted")
            if client.delete("greeting", "counter", "missing") != 2:
                raise AssertionError("DEL miscounted")
        finally:
            client.close()
    finally:
        server.shutdown()
        server.server_close()
    return f"redis {redis.__version__}"


CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("markupsafe", check_markupsafe),
    ("idna", check_idna),
    ("charset-normalizer", check_charset_normalizer),
    ("certifi", check_certifi),
    ("requests", check_requests),
    ("pexpect", check_pexpect),
    ("redis", check_redis),
]


def selftest() -> int:
    failed = 0
    for name, check in CHECKS:
        try:
            detail = check()
        except Exception:  # noqa: BLE001 (report every failure, then exit 1)
            failed += 1
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
        else:
            print(f"ok   {name}: {detail}", flush=True)
    if failed:
        print(f"selftest failed: {failed} of {len(CHECKS)} checks")
    else:
        print(f"selftest ok: all {len(CHECKS)} checks")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pinwheel-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pinwheel-demo {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("selftest", help="import and exercise every runtime dependency")
    args = parser.parse_args(argv)
    if args.command == "selftest":
        return selftest()
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
