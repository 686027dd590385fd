"""``python -m lakehouse.publicapi [--host H] [--port P]``: serve the public API with uvicorn."""

from __future__ import annotations

import argparse

import uvicorn

from lakehouse.publicapi.app import create_app
from lakehouse.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Quảng Ninh IOC public API (Open311 GeoReport v2, open data)")
    parser.add_argument("--host", default=settings.public_api_host)
    parser.add_argument("--port", type=int, default=settings.public_api_port)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    # One process: the snapshot of gold lives in it. Behind a proxy add --proxy-headers through
    # uvicorn's CLI (uvicorn lakehouse.publicapi.app:create_app --factory ...) instead.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
