"""``orchestrator probe live|ready``: ask the local worker's /healthz or /readyz, for a container's
HEALTHCHECK (the slim image has no curl). Exit 0 when it answers 200, 1 otherwise."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

PATHS = {"live": "/healthz", "ready": "/readyz"}
ANY_ADDRESS = ("", "0.0.0.0", "::")  # noqa: S104 - names of "every interface", compared, never bound


def probe(host: str, port: int, which: str, timeout: float = 4.0) -> int:
    target = "127.0.0.1" if host in ANY_ADDRESS else host
    url = f"http://{target}:{port}{PATHS[which]}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode(errors="replace")
            status = int(response.status)
    except urllib.error.HTTPError as error:
        body, status = error.read().decode(errors="replace"), error.code
    except OSError as exc:
        print(f"orchestrator probe: {url}: {exc}", file=sys.stderr)
        return 1
    print(body)
    return 0 if status == 200 else 1
