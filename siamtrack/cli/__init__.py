"""The ``siamtrack`` command (console script, and ``python -m siamtrack``): a subcommand per tool.

Each subcommand lives in its own module of this package (``add_arguments``, an optional ``validate``
and ``run``); the modules import nothing heavy at the top, so ``--help`` and usage errors answer
without loading torch, OpenCV or matplotlib. Every error a user can fix, from argparse or from the
package (:class:`~siamtrack.errors.SiamtrackError`), is one ``error: ...`` line and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import NoReturn, Sequence

from siamtrack import __version__
from siamtrack.errors import reports_errors

DESCRIPTION = """A SiamFC single-object tracker: box an object on the first frame, follow it through the video.

    siamtrack track clip.mp4 --box 450,380,250,168 --out-video out/clip.mp4 --out-boxes out/clip.txt
    siamtrack track --demo                      # a synthetic clip with ground truth, no input needed
    siamtrack train --data /path/to/GOT-10k --out runs/x
    siamtrack test --dataset otb --root data/OTB100 --trackers siamtrack,cv:CSRT
    siamtrack bench --weights siamfc_alexnet --fast-weights siamfc_fast
    siamtrack export --weights siamfc_fast --out onnx/fast --int8
    siamtrack release --weights runs/x/best.pth --config configs/efficientnet_box.yaml --out weights/x.pth
    siamtrack box-bias --weights weights/efficientnet_box.pth --root data/got10k/train

'siamtrack COMMAND --help' gives each command's options. Errors are one 'error: ...' line, exit code 2.
"""
# subcommand -> module of this package
COMMANDS = {
    "track": "track",
    "train": "train",
    "test": "test",
    "bench": "bench",
    "export": "export",
    "curate": "curate",
    "plot-training": "plot_training",
    "release": "release",
    "box-bias": "box_bias",
}


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error reported like every siamtrack error: one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def subcommand(name: str) -> ModuleType:
    """The module that implements subcommand ``name``."""
    return importlib.import_module(f"{__name__}.{COMMANDS[name]}")


def build_parser() -> tuple[Parser, dict[str, Parser]]:
    """The ``siamtrack`` parser and each subcommand's parser, by name."""
    parser = Parser(prog="siamtrack", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"siamtrack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parsers = {}
    for name in COMMANDS:
        module = subcommand(name)
        parsers[name] = commands.add_parser(name, help=module.HELP, description=module.__doc__,
                                            formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(parsers[name])
    return parser, parsers


@reports_errors
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``siamtrack COMMAND ...`` (``argv`` without the program name; default: ``sys.argv[1:]``)."""
    # File names that are not UTF-8 are printed with backslash escapes rather than failing the print.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser, parsers = build_parser()
    args = parser.parse_args(argv)
    module = subcommand(args.command)
    problem = module.validate(args) if hasattr(module, "validate") else None
    if problem:
        parsers[args.command].error(problem)
    return module.run(args)


def shim(command: str) -> NoReturn:
    """What ``tools/<command>.py`` of a checkout does: ``siamtrack <command>`` with its arguments."""
    sys.exit(main([command, *sys.argv[1:]]))
