"""``python -m skystream.local.serve``: the detached function host started by ``skystream up --detach``."""

from __future__ import annotations

import argparse
import logging

from skystream.local.stack import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    serve(api_port=args.api_port)


if __name__ == "__main__":
    main()
