"""The command line: ``python -m weightinit`` or ``weightinit``.

Without a subcommand it prints a short demonstration. Subcommands: ``recommend``, ``gain``,
``fans``, ``diagnose`` and ``compare``; each takes ``--json`` for machine-readable output.
Bad arguments print one line to standard error and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any
from typing import NoReturn

import weightinit as wi
from weightinit import demo
from weightinit.diagnostics import compare
from weightinit.diagnostics import diagnose
from weightinit.diagnostics import report_json


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _params(args: argparse.Namespace) -> dict[str, float]:
    params = {}
    if args.negative_slope is not None:
        params["negative_slope"] = args.negative_slope
    if args.alpha is not None:
        params["alpha"] = args.alpha
    return params


def _add_activation_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--negative-slope", type=float, help="leaky ReLU's negative slope")
    parser.add_argument("--alpha", type=float, help="ELU's alpha")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _build() -> _Parser:
    parser = _Parser(
        prog="weightinit",
        description="Neural-network weight initializers: recommendations, gains, fans and "
        "depth diagnostics. Without a subcommand, prints a short demonstration.",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("recommend", help="the initializer to use with an activation")
    p.add_argument("activation", help="an activation name, e.g. relu, tanh, gelu")
    p.add_argument("--distribution", choices=("normal", "uniform", "truncated_normal"))
    _add_activation_params(p)

    p = sub.add_parser("gain", help="an activation's gain")
    p.add_argument("activation")
    p.add_argument("--convention", default="second_moment", choices=("second_moment", "pytorch"))
    _add_activation_params(p)

    p = sub.add_parser("fans", help="fan-in and fan-out of a weight shape")
    p.add_argument("dims", nargs="+", type=int, metavar="DIM")
    p.add_argument("--layout", default="in_out", help="in_out (keras, jax), out_in (pytorch), ...")
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print JSON")

    for name, helptext in (
        ("diagnose", "activation and gradient statistics through a deep stack"),
        ("compare", "diagnose several initializers on the same inputs"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "diagnose":
            p.add_argument("--init", required=True, help="an initializer name, e.g. he_normal")
        else:
            p.add_argument("--init", required=True, action="append", help="repeat for each")
        p.add_argument("--activation", required=True)
        p.add_argument("--depth", type=int, default=5)
        p.add_argument("--width", type=int, default=100)
        p.add_argument("--batch", type=int, default=1000)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--bias", type=float, default=0.0)
        p.add_argument("--negative-slope", type=float, help="leaky ReLU's negative slope")
        p.add_argument("--alpha", type=float, help="ELU's alpha")
        p.add_argument("--plot", metavar="FILE.png", help="save the histograms to a PNG file")
        p.add_argument(
            "--hist", action="store_true", help="also print the histograms as text (no matplotlib)"
        )
        p.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _run(args: argparse.Namespace) -> str:
    if args.command == "recommend":
        init = wi.recommend(args.activation, distribution=args.distribution, **_params(args))
        if args.json:
            return json.dumps(
                {
                    "activation": args.activation,
                    "call": repr(init),
                    "initializer": init.get_config(),
                    "explanation": wi.explain(
                        args.activation, distribution=args.distribution, **_params(args)
                    ),
                },
                indent=2,
            )
        # explain's first line is "<activation>: <the call that makes the initializer>".
        return wi.explain(args.activation, distribution=args.distribution, **_params(args))
    if args.command == "gain":
        value = wi.gain(args.activation, convention=args.convention, **_params(args))
        if args.json:
            return json.dumps(
                {"activation": args.activation, "convention": args.convention, "gain": value}
            )
        return f"{value:.6f}"
    if args.command == "fans":
        f = wi.fans(args.dims, layout=args.layout, groups=args.groups)
        if args.json:
            return json.dumps(f._asdict())
        return f"fan_in={f.fan_in} fan_out={f.fan_out} receptive_field={f.receptive_field}"
    options: dict[str, Any] = {
        "depth": args.depth,
        "width": args.width,
        "batch": args.batch,
        "seed": args.seed,
        "bias": args.bias,
        **_params(args),
    }
    if args.command == "diagnose":
        result: Any = diagnose(args.init, args.activation, **options)
    else:
        result = compare(args.init, args.activation, **options)
    if args.plot:
        figure = result.plot()
        try:
            figure.savefig(args.plot, dpi=110)
        finally:
            import matplotlib.pyplot as plt

            plt.close(figure)
    if args.json:
        return report_json(result)
    return f"{result}\n\n{result.histograms()}" if args.hist else str(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Examples
    --------
    >>> main(["fans", "64", "32", "3", "3", "--layout", "pytorch"])
    fan_in=288 fan_out=576 receptive_field=9
    0
    >>> main(["gain", "tanh"])
    1.592537
    0
    """
    args = _build().parse_args(argv)
    if args.command is None:
        print(demo.report())
        return 0
    try:
        output = _run(args)
    except (ValueError, TypeError, ImportError, OSError, MemoryError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"weightinit {args.command}: error: {message}", file=sys.stderr)
        return 2
    print(output)
    return 0
