"""`dualcam` and `python -m app`. Only a launcher: the analysis workers are spawned processes, and a spawned process
imports its parent's main module first; this one imports nothing, so a worker holds the analysis and not the whole CLI."""

import sys


def main() -> None:
    from app.cli import main as cli

    cli()


if __name__ == "__main__":
    sys.exit(main())
