"""``edge-bml serve``: the kiosk / mobile-backend HTTP server."""

from __future__ import annotations

import argparse

from edge_bml.cli.arg_types import positive_int
from edge_bml.cli.look_command import add_look_options, options_from_args


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("serve", help="serve POST /v1/look and the kiosk page")
    add_look_options(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)"
    )
    parser.add_argument("--port", type=positive_int, default=8080, help="TCP port (default 8080)")
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="looks run at once, one pipeline each (default 1)"
    )
    parser.add_argument("--queue", type=int, default=4, help="requests that may wait beyond the workers (default 4)")
    parser.add_argument("--max-upload-mb", type=float, default=16.0, help="largest upload accepted (default 16)")
    parser.add_argument(
        "--per-client",
        type=int,
        default=None,
        metavar="N",
        help="places (running or waiting) one client address may hold (default: half of workers + queue)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds a whole upload may take to arrive; slower ones get 408 (default 20)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from edge_bml.server.app import ServerOptions, create_app, open_pool

    server = ServerOptions(
        workers=args.workers,
        queue_size=args.queue,
        max_upload_bytes=int(args.max_upload_mb * 1e6),
        body_timeout_s=args.body_timeout,
        per_client=args.per_client,
    )
    options = options_from_args(args)
    pool = open_pool(options, server)  # a bad catalog or model stops here, with one line, before listening
    app = create_app(options, server, pool=pool)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=5)
    return 0
