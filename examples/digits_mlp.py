"""Does the network train? A deep NumPy MLP on scikit-learn's digits, one run per initializer.

A multi-layer perceptron written in NumPy alone (forward pass, backward pass, SGD with
momentum, softmax cross-entropy) is trained on the 8x8 handwritten digits that ship inside
scikit-learn (``sklearn.datasets.load_digits``: 1797 images, no download), with the same data,
the same minibatches and the same budget for every initializer, for tanh and for ReLU. It
prints the final training loss, test loss and test accuracy of each run, saves the learning
curves, and checks from the trained weights themselves that the zero-initialised network
never told its hidden units apart.

Run it with ``python examples/digits_mlp.py`` (needs ``pip install weightinit[examples]``);
``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import numpy as np

import weightinit as wi
from weightinit._activations import lookup

Array = np.ndarray
ACTIVATIONS = ("tanh", "relu")
DTYPE = np.float32


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Data:
    """Standardised digits: ``x_*`` of shape (n, 64), ``y_*`` integer labels 0-9."""

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array


def load_data(seed: int = 0, test_size: float = 0.25) -> Data:
    """The digits, split into train and test (stratified), scaled by training statistics."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x.astype(DTYPE), y, test_size=test_size, random_state=seed, stratify=y
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0.0] = 1.0  # pixels that are blank in every training image
    return Data((x_train - mean) / std, y_train, (x_test - mean) / std, y_test)


# --------------------------------------------------------------------------- the network


@dataclass
class Network:
    """Dense layers ``h_l = a_{l-1} @ W_l + b_l`` (layout "in_out"); the last is the logits."""

    weights: list[Array]
    biases: list[Array]
    activation: str

    def f(self, h: Array) -> Array:
        """The activation at ``h``, in ``h``'s dtype (from weightinit's activation table)."""
        return np.asarray(lookup(self.activation).function(h), dtype=h.dtype)

    def df(self, h: Array) -> Array:
        """The activation's derivative at ``h``, in ``h``'s dtype."""
        slope = lookup(self.activation).slope(h)
        assert slope is not None, f"{self.activation} has no derivative in the table"
        return slope


def layer_sizes(depth: int, width: int, n_in: int = 64, n_out: int = 10) -> list[int]:
    """``depth`` hidden layers of ``width`` units between the inputs and the ten classes."""
    return [n_in, *([width] * depth), n_out]


def make_network(
    init: wi.Initializer, activation: str, sizes: Sequence[int], seed: int = 0
) -> Network:
    """Every weight drawn from ``init`` (its own seed per layer), every bias zero."""
    streams = np.random.SeedSequence(seed).spawn(len(sizes) - 1)
    weights = [
        init((n_in, n_out), DTYPE, seed=stream)
        for n_in, n_out, stream in zip(sizes[:-1], sizes[1:], streams, strict=True)
    ]
    biases = [np.zeros(n, dtype=DTYPE) for n in sizes[1:]]
    return Network(weights, biases, activation)


def make_lsuv_network(
    activation: str, sizes: Sequence[int], x: Array, seed: int = 0
) -> tuple[Network, wi.LSUVReport]:
    """Orthogonal weights, then :func:`weightinit.lsuv` on the batch ``x`` (Mishkin & Matas)."""
    net = make_network(wi.orthogonal(), activation, sizes, seed)
    report = wi.lsuv(net.weights, lambda weights, batch: pre_activations(net, batch), x)
    return net, report


def pre_activations(net: Network, x: Array) -> list[Array]:
    """Every layer's ``h``: the ``forward(weights, x)`` that :func:`weightinit.lsuv` needs."""
    return forward(net, x)[0]


def forward(net: Network, x: Array) -> tuple[list[Array], list[Array]]:
    """Pre-activations ``h_l`` and layer inputs ``a_{l-1}`` (``a_0 = x``)."""
    hs: list[Array] = []
    inputs: list[Array] = []
    a = x
    last = len(net.weights) - 1
    for i, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        inputs.append(a)
        h = a @ w + b
        hs.append(h)
        if i < last:
            a = net.f(h)
    return hs, inputs


def softmax_cross_entropy(logits: Array, y: Array) -> tuple[float, Array]:
    """Mean cross-entropy and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    loss = -float(log_p[rows, y].mean())
    grad = np.exp(log_p)
    grad[rows, y] -= 1.0
    return loss, grad / len(y)


def loss_and_gradients(net: Network, x: Array, y: Array) -> tuple[float, list[Array], list[Array]]:
    """Backpropagation: the loss and its gradient for every weight and bias."""
    hs, inputs = forward(net, x)
    loss, delta = softmax_cross_entropy(hs[-1], y)
    grad_w: list[Array] = [np.empty(0)] * len(hs)
    grad_b: list[Array] = [np.empty(0)] * len(hs)
    for i in range(len(hs) - 1, -1, -1):
        grad_w[i] = inputs[i].T @ delta
        grad_b[i] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ net.weights[i].T) * net.df(hs[i - 1])
    return loss, grad_w, grad_b


def evaluate(net: Network, x: Array, y: Array) -> tuple[float, float]:
    """Loss and accuracy on ``(x, y)``."""
    logits = forward(net, x)[0][-1]
    loss, _ = softmax_cross_entropy(logits, y)
    return loss, float(np.mean(logits.argmax(axis=1) == y))


# --------------------------------------------------------------------------- training


@dataclass
class History:
    """Per-epoch curves; entry 0 is before training. NaN after a run diverges."""

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    def record(self, net: Network, data: Data) -> None:
        train_loss, _ = evaluate(net, data.x_train, data.y_train)
        test_loss, accuracy = evaluate(net, data.x_test, data.y_test)
        self.train_loss.append(train_loss)
        self.test_loss.append(test_loss)
        self.test_accuracy.append(accuracy)


def train(
    net: Network,
    data: Data,
    *,
    epochs: int,
    lr: float = 0.01,
    momentum: float = 0.9,
    batch_size: int = 32,
    seed: int = 0,
) -> History:
    """Minibatch SGD with (heavy-ball) momentum; the batches depend on ``seed`` only."""
    rng = np.random.default_rng(seed)
    params = [*net.weights, *net.biases]
    velocity = [np.zeros_like(p) for p in params]
    history = History()
    n = len(data.y_train)
    # A diverging run overflows on purpose; it is reported, not warned about.
    with np.errstate(all="ignore"), _one_blas_thread():
        history.record(net, data)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n)
            for start in range(0, n, batch_size):
                batch = order[start : start + batch_size]
                _, grad_w, grad_b = loss_and_gradients(
                    net, data.x_train[batch], data.y_train[batch]
                )
                for p, v, g in zip(params, velocity, [*grad_w, *grad_b], strict=True):
                    v *= momentum
                    v -= lr * g
                    p += v
            history.record(net, data)
            if not np.isfinite(history.train_loss[-1]):
                history.diverged_at = epoch
                break
    missing = epochs + 1 - len(history.train_loss)
    for curve in (history.train_loss, history.test_loss, history.test_accuracy):
        curve.extend([float("nan")] * missing)
    return history


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """Limit BLAS to one thread while training.

    The matrices are tiny (64 x 64), so a second BLAS thread only adds hand-offs; when the
    other core is busy, each product then waits for it, and training runs several times
    slower. threadpoolctl comes with scikit-learn.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    limiter: contextlib.AbstractContextManager[object] = threadpool_limits(1, user_api="blas")
    return limiter


def symmetry_gaps(net: Network) -> list[float]:
    """Per hidden layer, ``max_j max_i |W[i, j] - W[i, 0]|`` and the same for the biases.

    Zero means every unit of the layer has the same incoming weights and bias as unit 0, so
    all of them compute the same function of the input: the layer acts as one unit.
    """
    gaps = []
    for w, b in zip(net.weights[:-1], net.biases[:-1], strict=True):
        gap_w = float(np.max(np.abs(w - w[:, :1])))
        gap_b = float(np.max(np.abs(b - b[0])))
        gaps.append(max(gap_w, gap_b))
    return gaps


# --------------------------------------------------------------------------- the experiment

LSUV = "orthogonal + lsuv"


def initializers(activation: str) -> dict[str, wi.Initializer | None]:
    """The initializers compared, by label; ``None`` stands for orthogonal + LSUV."""
    return {
        "zeros()": wi.zeros(),
        "scaled_normal(0.01)": wi.scaled_normal(0.01),
        "scaled_normal(1.0)": wi.scaled_normal(1.0),
        "glorot_uniform()": wi.glorot_uniform(),
        "he_normal()": wi.he_normal(),
        f"recommend({activation!r})": wi.recommend(activation),
        LSUV: None,
    }


@dataclass
class Run:
    activation: str
    label: str
    history: History
    net: Network
    lsuv_report: wi.LSUVReport | None = None


def run_one(
    label: str,
    init: wi.Initializer | None,
    activation: str,
    data: Data,
    *,
    depth: int,
    width: int,
    epochs: int,
    seed: int,
    lr: float = 0.01,
) -> Run:
    """Build one network (same weight seeds for every initializer) and train it."""
    sizes = layer_sizes(depth, width, data.x_train.shape[1])
    report = None
    if init is None:
        batch = np.random.default_rng(seed).choice(len(data.y_train), size=500, replace=False)
        net, report = make_lsuv_network(activation, sizes, data.x_train[batch], seed)
    else:
        net = make_network(init, activation, sizes, seed)
    history = train(net, data, epochs=epochs, lr=lr, seed=seed)
    return Run(activation, label, history, net, report)


def run_all(
    data: Data, *, depth: int, width: int, epochs: int, seed: int, lr: float = 0.01
) -> list[Run]:
    return [
        run_one(
            label, init, activation, data, depth=depth, width=width, epochs=epochs, seed=seed, lr=lr
        )
        for activation in ACTIVATIONS
        for label, init in initializers(activation).items()
    ]


def table(runs: Sequence[Run], epochs: int) -> str:
    wide = max(len(r.label) for r in runs)
    head = (
        f"{'activation':10} {'initializer':{wide}} {'train loss':>10} {'test loss':>10} "
        f"{'test acc':>8}"
    )
    rows = [f"after {epochs} epochs", head, "-" * len(head)]
    for r in runs:
        h = r.history
        note = f"  diverged (non-finite loss) in epoch {h.diverged_at}" if h.diverged_at else ""
        rows.append(
            f"{r.activation:10} {r.label:{wide}} {h.train_loss[-1]:10.4f} {h.test_loss[-1]:10.4f} "
            f"{_percent(h.test_accuracy[-1]):>8}{note}"
        )
    return "\n".join(rows)


def _percent(value: float) -> str:
    return f"{value:.1%}" if np.isfinite(value) else "nan"


def same_as(activation: str) -> list[str]:
    """Sentences naming the table rows that use the very same initializer."""
    inits = initializers(activation)
    lines = []
    for label, init in inits.items():
        if label.startswith("recommend"):
            twins = [other for other, i in inits.items() if other != label and i == init]
            if twins:
                lines.append(
                    f"{label} is {twins[0]}, the same initializer drawn with the same seed, "
                    "so its row repeats that one."
                )
    return lines


def constant_symmetry(data: Data, *, depth: int, width: int, epochs: int, seed: int) -> str:
    """The same check for ``constant(0.05)``, whose weights do move during training."""
    lines = []
    for activation in ACTIVATIONS:
        run = run_one(
            "constant(0.05)",
            wi.constant(0.05),
            activation,
            data,
            depth=depth,
            width=width,
            epochs=epochs,
            seed=seed,
        )
        start = make_network(wi.constant(0.05), activation, layer_sizes(depth, width))
        moved = max(
            float(np.max(np.abs(w - w0)))
            for w, w0 in zip(run.net.weights[:-1], start.weights[:-1], strict=True)
        )
        gap = max(symmetry_gaps(run.net))
        size = max(float(np.max(np.abs(w))) for w in run.net.weights[:-1])
        lines.append(
            f"constant(0.05), {activation}: the hidden weights moved by up to {moved:.3g}, yet "
            f"max over layers and units of |W[:, j] - W[:, 0]| is {gap:.3g}, {gap / size:.1e} "
            f"of the largest weight (float32 rounding); training loss "
            f"{run.history.train_loss[-1]:.4f}, test accuracy "
            f"{_percent(run.history.test_accuracy[-1])}."
        )
    return "\n".join(lines)


def symmetry_report(runs: Sequence[Run]) -> str:
    lines = []
    for r in runs:
        if r.label != "zeros()":
            continue
        gaps = symmetry_gaps(r.net)
        width = r.net.weights[0].shape[1]
        shown = ", ".join(f"{g:.3g}" for g in gaps)
        lines.append(
            f"zeros(), {r.activation}: after training, max over units j of "
            f"|W[:, j] - W[:, 0]| (and of |b_j - b_0|), per hidden layer: [{shown}]."
        )
        if all(g == 0.0 for g in gaps):
            moved = max(float(np.max(np.abs(w))) for w in r.net.weights[:-1])
            lines.append(
                f"  All {width} hidden units of every layer are still identical: each layer "
                "computes one function of its input, copied across its units, and gradient "
                "descent cannot tell them apart, since identical units get identical updates."
                + (
                    f" Here no hidden weight moved at all (largest |W| {moved:.3g}): with every "
                    "weight zero no error signal flows back through the layers (delta @ W.T = "
                    f"0), and {r.activation}(0) = 0 leaves the output weights nothing to learn "
                    "from, so only the output biases train."
                    if moved == 0.0
                    else ""
                )
            )
        else:
            lines.append(f"  The hidden units of zeros(), {r.activation} drifted apart.")
    return "\n".join(lines)


def plot(runs: Sequence[Run], path: Path, *, depth: int, width: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = plt.get_cmap("tab10")
    figure, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for row, activation in enumerate(ACTIVATIONS):
        mine = [r for r in runs if r.activation == activation]
        for i, r in enumerate(mine):
            epochs = np.arange(len(r.history.train_loss))
            style: dict[str, object] = {"color": colours(i), "label": r.label, "linewidth": 1.6}
            if r.label.startswith("recommend"):
                style.update(linestyle=":", linewidth=2.6)  # it repeats an earlier curve
            elif r.label == "zeros()":
                style.update(linewidth=4.0, alpha=0.6)  # scaled_normal(0.01) lies on top of it
            if r.history.diverged_at is not None:
                style.update(marker="x", markersize=8, label=f"{r.label} (diverged)")
            axes[row][0].plot(epochs, r.history.train_loss, **style)
            axes[row][1].plot(epochs, r.history.test_accuracy, **style)
        axes[row][0].set_yscale("log")
        axes[row][0].set_ylabel(f"{activation}\ntraining loss")
        axes[row][1].set_ylabel("test accuracy")
        axes[row][1].set_ylim(0.0, 1.0)
        axes[row][1].legend(fontsize=7, loc="lower right")
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    figure.suptitle(
        f"NumPy MLP on sklearn digits: {depth} hidden layers of {width} units, SGD + momentum",
        fontsize=11,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--depth", type=int, default=8, help="hidden layers (default 8)")
    parser.add_argument("--width", type=int, default=64, help="units per hidden layer (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="data split, weights and batches")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "digits_curves.png",
        help="where to save the learning curves (default examples/digits_curves.png)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny budget (for tests)")
    args = parser.parse_args(argv)
    epochs = 2 if args.quick else args.epochs
    for name in ("epochs", "depth", "width"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be a positive int; got {getattr(args, name)}")

    start, cpu = time.perf_counter(), time.process_time()
    data = load_data(args.seed)
    print(
        f"digits: {len(data.y_train)} training and {len(data.y_test)} test images of 64 pixels; "
        f"MLP with {args.depth} hidden layers of {args.width} units, minibatch SGD "
        f"(lr 0.01, momentum 0.9, batch 32), seed {args.seed}"
    )
    runs = run_all(data, depth=args.depth, width=args.width, epochs=epochs, seed=args.seed)
    print()
    print(table(runs, epochs))
    print()
    for activation in ACTIVATIONS:
        for line in same_as(activation):
            print(line)
    for r in runs:
        if r.lsuv_report is not None:
            stds = ", ".join(f"{layer.initial_std:.3g}" for layer in r.lsuv_report.layers)
            print(
                f"LSUV, {r.activation}: layer output stds {stds} rescaled to 1 +- 0.05 "
                f"(converged: {r.lsuv_report.converged})."
            )
    print()
    print(symmetry_report(runs))
    print(
        constant_symmetry(data, depth=args.depth, width=args.width, epochs=epochs, seed=args.seed)
    )
    plot(runs, args.out, depth=args.depth, width=args.width)
    print()
    print(f"learning curves saved to {args.out}")
    print(
        f"{len(runs) + len(ACTIVATIONS)} trainings in {time.perf_counter() - start:.1f} s "
        f"({time.process_time() - cpu:.1f} s of CPU)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
