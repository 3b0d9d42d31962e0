"""``edge-bml serve``: the kiosk / mobile-backend HTTP server."""

from __future__ import annotations

import argparse
import logging
import sys

from edge_bml.cli.arg_types import (
    MAX_QUEUE,
    MAX_WORKERS,
    int_in,
    port_number,
    positive_float,
    positive_int,
)
from edge_bml.cli.look_command import add_look_options, options_from_args


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("serve", help="serve POST /v1/look and the kiosk page")
    add_look_options(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)"
    )
    parser.add_argument("--port", type=port_number, default=8080, help="TCP port, 1-65535 (default 8080)")
    parser.add_argument(
        "--workers",
        type=int_in(1, MAX_WORKERS),
        default=1,
        help="looks run at once, one pipeline each, 1-64 (default 1)",
    )
    parser.add_argument(
        "--queue",
        type=int_in(0, MAX_QUEUE),
        default=4,
        help="requests that may wait beyond the workers, 0-1000 (default 4)",
    )
    parser.add_argument(
        "--max-upload-mb", type=positive_float, default=16.0, help="largest upload accepted (default 16)"
    )
    parser.add_argument(
        "--per-client",
        type=positive_int,
        default=None,
        metavar="N",
        help="places (running or waiting) one client address may hold (default: half of workers + queue)",
    )
    parser.add_argument(
        "--body-timeout",
        type=positive_float,
        default=20.0,
        metavar="S",
        help="seconds a whole upload may take to arrive; slower ones get 408 (default 20)",
    )
    parser.add_argument(
        "--job-timeout",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds a look may take from admission; a slower one gets 504 and stops (default 10)",
    )
    parser.add_argument(
        "--header-timeout",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds a request's head may take to arrive; slower connections are closed (default 10)",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=256,
        metavar="N",
        help="open connections at most; more are closed at once (default 256)",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy whose X-Forwarded-For names the client (repeatable; default: none is trusted)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin (e.g. https://shop.example) whose pages may call the API (repeatable; default: none)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from edge_bml.server.app import ServerOptions, create_app, open_pool
    from edge_bml.server.http_server import quiet_repeats, server_config

    server = ServerOptions(
        workers=args.workers,
        queue_size=args.queue,
        max_upload_bytes=int(args.max_upload_mb * 1e6),
        body_timeout_s=args.body_timeout,
        per_client=args.per_client,
        job_timeout_s=args.job_timeout,
        header_timeout_s=args.header_timeout,
        max_connections=args.max_connections,
        trusted_proxies=tuple(args.trusted_proxy),
        cors_origins=tuple(args.cors_origin),
    )
    options = options_from_args(args)
    if options.catalog is None:
        print(
            "edge-bml serve: no catalog given (--catalog DIR): looks come back without matches; "
            "run `edge-bml demo` to build catalog_shards/clothing",
            file=sys.stderr,
        )
    served = logging.getLogger("edge_bml.server")  # its info lines (a catalog reloaded) show, as its warnings do
    if not served.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        served.addHandler(handler)
        served.setLevel(logging.INFO)
    pool = open_pool(options, server)  # a bad catalog or model stops here, with one line, before listening
    app = create_app(options, server, pool=pool)
    quiet_repeats()
    uvicorn.Server(server_config(app, host=args.host, port=args.port, options=server)).run()
    return 0
