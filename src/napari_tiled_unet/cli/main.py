"""The ``napari-tiled-unet`` command: ``train``, ``predict``, ``info``, ``export`` and ``models``.

Bad input ends with exit code 2 and one line on stderr that names the problem and the fix, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from napari_tiled_unet._version import __version__
from napari_tiled_unet.cli import export_cmd, info_cmd, models_cmd, predict_cmd, train_cmd
from napari_tiled_unet.errors import Cancelled

PROG = "napari-tiled-unet"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train a U-Net on microscopy images and segment whole images and stacks with exact "
        "overlap-tile prediction.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train_cmd, predict_cmd, info_cmd, export_cmd, models_cmd):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, NotImplementedError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except Cancelled as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing half-written was left behind", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print(f"{PROG}: error: out of memory: use a smaller --tile-size or --batch-size 1", file=sys.stderr)
        return EXIT_USAGE


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
