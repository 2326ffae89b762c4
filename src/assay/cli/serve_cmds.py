"""``assay serve``: the dashboard."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from assay.cli.app import ProjectOption, app, console
from assay.cli.errors import reported
from assay.errors import AssayError


@app.command()
@reported
def serve(
    project: ProjectOption = Path("."),
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default: only this machine).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).", min=0, max=65535)] = 8000,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="No decisions or re-runs: for sharing.")
    ] = False,
) -> None:
    """Serve the dashboard: experiments, results, checks and decisions from the results store.

    Pages are rendered on the server from the stored analyses (nothing is recomputed); writes
    (recording a decision, re-running an analysis) are POSTs with a CSRF token, and
    --read-only turns them off. Stop it with Ctrl-C.

    Example:

        assay serve --project demo --port 8000
    """
    try:
        import uvicorn

        from assay.web import create_app
    except ImportError as err:
        raise AssayError(
            f"the dashboard needs FastAPI and uvicorn ({err}); pip install 'assay[web]'"
        ) from err
    from assay.spec import load_project

    web = create_app(load_project(project), read_only=read_only)
    sock = _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    mode = " (read-only)" if read_only else ""
    console.print(f"assay dashboard{mode} at http://{shown}:{bound_port}/  (Ctrl-C stops)",
                  highlight=False, soft_wrap=True)
    config = uvicorn.Config(web, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket (bound before the URL is printed, so the URL is the real one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise AssayError(f"cannot listen on {host}:{port}: {err.strerror}; "
                         "choose another --port") from err
    sock.listen(128)
    return sock
