"""The coordinate check of PyTorch models: the standard parametrisation's outputs grow with the
width after the first updates, μP's stay flat; the check is deterministic and leaves the
models and the caller's random state as they were."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from weightinit import schemes  # noqa: E402
from weightinit.coords import CoordReport  # noqa: E402
from weightinit.torch._coord import OUTPUT  # noqa: E402
from weightinit.torch._coord import coord_check  # noqa: E402

WIDTHS = (32, 64, 128, 256)


class Readout(torch.nn.Linear):
    """A readout that multiplies its output, as μP asks of the model (base / width)."""

    def __init__(self, fan_in: int, fan_out: int, multiplier: float = 1.0) -> None:
        super().__init__(fan_in, fan_out)
        self.multiplier = multiplier

    def forward(self, x):  # type: ignore[no-untyped-def]
        return super().forward(x) * self.multiplier


def mlp(width: int, mup: bool = False) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(32, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width),
        torch.nn.ReLU(),
        Readout(width, 10, WIDTHS[0] / width if mup else 1.0),
    )


def gpt2(width: int) -> torch.nn.Module:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(
        vocab_size=128,
        n_positions=32,
        n_embd=width,
        n_layer=2,
        n_head=width // 16,  # d_head fixed at 16: attention's 1/sqrt(d_head) does not vary
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(config)


def late(report: CoordReport, names: list[str]) -> list[float]:
    """The slopes of ``names`` at the steps after the first update."""
    return [s for name in names for s in report.slopes[name][1:]]


def test_mlp_standard_grows_and_mup_stays_flat() -> None:
    # Adam at lr 0.1 on one batch: each step moves every weight by about lr in a direction
    # correlated with the layer's (non-negative, after ReLU) input, so a layer of fan-in w
    # changes its output by about lr·w. Measured on widths 32..256 (slopes at steps 1, 2):
    # SP hidden "2" 0.88, 0.77 and readout 1.70, 1.49; μP every layer within 0.09 of 0.
    # The margins sit halfway: SP's hidden slope above 0.6, its readout's above 1.0;
    # μP's every |slope| below 0.2.
    sp = coord_check(mlp, WIDTHS, lr=0.1, scheme="recommended", activation="relu")
    mu = coord_check(lambda w: mlp(w, True), WIDTHS, lr=0.1, scheme="mup", activation="relu")
    assert list(sp.values) == ["0", "1", "2", "3", "4", OUTPUT]
    assert max(late(sp, ["2", "3"])) > 0.6
    assert min(late(sp, ["4", OUTPUT])) > 1.0
    assert all(abs(s) < 0.2 for s in late(mu, list(mu.values)))
    assert {"2", "3", "4", OUTPUT} <= set(sp.blowing_up) and mu.blowing_up == []
    # At initialization both are flat (He weights); μP's readout starts at zero.
    assert all(abs(s) < 0.2 for name in sp.values for s in sp.slopes[name][:1])
    assert mu.values["4"][0] == [0.0] * len(WIDTHS) and math.isnan(mu.slopes["4"][0])
    assert "μP learning rates" in mu.model and "mup" in mu.model


def test_gpt2_standard_grows_and_mup_stays_flat() -> None:
    # GPT-2 from a config (2 blocks, d_head 16), its own N(0, 0.02) init, Adam at lr 0.01,
    # on 4 sequences of 16 tokens. Measured on widths 32..256: SP's output projections
    # (c_proj) have slopes 0.95..1.81 at steps 1 and 2 (a constant 0.02 on a fan-in of w
    # gives 0.5 already at step 0); μP (fused q/k/v, so query_zero=False) keeps every hidden
    # layer within 0.06 of 0. The margins: SP's largest hidden slope above 0.8, μP's every
    # |slope| below 0.15. The readout is left out: GPT-2 does not multiply its logits by
    # base / width, so under μP they still grow (slope about 0.9) and the check names them.
    ids = torch.randint(0, 128, (4, 16), generator=torch.Generator().manual_seed(0))
    sp = coord_check(gpt2, WIDTHS, lr=0.01, batch={"input_ids": ids})
    mup = schemes.mup(gpt2(WIDTHS[0]), query_zero=False)
    mu = coord_check(gpt2, WIDTHS, lr=0.01, scheme=mup, batch={"input_ids": ids})
    hidden = [name for name in sp.values if name not in ("lm_head", OUTPUT)]
    assert len(hidden) == 17 and hidden[0] == "transformer.wte"
    assert max(late(sp, hidden)) > 0.8
    assert all(abs(s) < 0.15 for s in late(mu, hidden))
    assert all(abs(s) < 0.15 for name in hidden for s in mu.slopes[name][:1])
    assert mu.blowing_up == ["lm_head", OUTPUT]


def test_deterministic_and_random_state_kept() -> None:
    state = torch.get_rng_state()
    first = coord_check(mlp, (16, 32), steps=2, lr=0.05, scheme="recommended", seed=3)
    again = coord_check(mlp, (32, 16), steps=2, lr=0.05, scheme="recommended", seed=3)
    assert first.values == again.values and first.widths == (16, 32)
    assert torch.equal(torch.get_rng_state(), state)
    other = coord_check(mlp, (16, 32), steps=2, lr=0.05, scheme="recommended", seed=4)
    assert other.values != first.values
    # Without a scheme the model keeps its own initialization, drawn under the seed.
    own = coord_check(mlp, (16, 32), steps=2, seed=3)
    assert own.values == coord_check(mlp, (16, 32), steps=2, seed=3).values


def test_hooks_removed_after_success_and_errors() -> None:
    built: list[torch.nn.Module] = []

    def keep(width: int) -> torch.nn.Module:
        built.append(mlp(width))
        return built[-1]

    def hooks() -> int:
        return sum(len(m._forward_hooks) for model in built for m in model.modules())

    coord_check(keep, (8, 16), steps=2)
    assert len(built) == 2 and hooks() == 0

    class Fails(torch.nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(4, width)
            self.calls = 0

        def forward(self, x):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("forward failed")
            return self.fc(x)

    built.clear()

    def failing(width: int) -> torch.nn.Module:
        built.append(Fails(width))
        return built[-1]

    with pytest.raises(RuntimeError, match="forward failed"):
        coord_check(failing, (8, 16), steps=3)
    assert len(built) == 1 and hooks() == 0

    built.clear()

    def build_fails(width: int) -> torch.nn.Module:
        if width == 16:
            raise RuntimeError("build failed")
        return keep(width)

    with pytest.raises(RuntimeError, match="build failed"):
        coord_check(build_fails, (8, 16), steps=2)
    assert len(built) == 1 and hooks() == 0

    with pytest.raises(TypeError, match="no tensor"):
        coord_check(lambda w: _NoTensor(w), (8, 16), steps=2)


class _NoTensor(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, width)

    def forward(self, x):  # type: ignore[no-untyped-def]
        self.fc(x)
        return None


def test_report_json_and_text() -> None:
    report = coord_check(lambda w: mlp(w, True), (16, 32, 64), lr=0.1, scheme="mup")
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)  # NaN slopes (the zero readout) became null
    assert json.loads(text)["widths"] == [16, 32, 64] and data["steps"] == 3
    assert data["layers"][4]["slopes"][0] is None and data["layers"][4]["kind"] == "Readout"
    shown = str(report)
    assert "t=0" in shown and "t=2" in shown and "|x| w=64 t=2" in shown
    assert f"{report.slopes['2'][1]:6.2f}" in shown.splitlines()[5]
    assert "no layer grows with the width" in shown
    pytest.importorskip("matplotlib")
    figure = report.plot()
    assert len(figure.axes) == 3 and figure.axes[0].get_xscale() == "log"
    import matplotlib.pyplot as plt

    plt.close(figure)
    with pytest.raises(ValueError, match="no layer named 'fc9'"):
        report.plot(layers=["fc9"])


def test_layers_batches_and_losses() -> None:
    ids = torch.randint(0, 128, (4, 16), generator=torch.Generator().manual_seed(0))
    picked = coord_check(
        gpt2,
        (32, 64),
        steps=2,
        lr=0.01,
        layers="transformer.h.*.mlp.c_fc",
        batch={"input_ids": ids},
    )
    assert list(picked.values) == ["transformer.h.0.mlp.c_fc", "transformer.h.1.mlp.c_fc"]
    # The model's own loss (labels given) is the default when it has one.
    labelled = coord_check(
        gpt2,
        (32, 64),
        steps=2,
        lr=0.01,
        layers=["lm_head", OUTPUT],
        batch={"input_ids": ids, "labels": ids},
    )
    assert labelled.values[OUTPUT] == labelled.values["lm_head"]  # the logits, not the loss
    # ... and it is the next-token cross-entropy the default takes of token ids.
    shifted = coord_check(gpt2, (32, 64), steps=2, lr=0.01, layers="lm_head", batch=(ids,))
    assert labelled.values["lm_head"][1] == pytest.approx(shifted.values["lm_head"][1])
    # A convolution gets unit-normal images; a loss of the caller's.
    seen = []

    def loss(output, batch):  # type: ignore[no-untyped-def]
        seen.append(tuple(batch.shape))
        return output.square().mean()

    def cnn(width: int) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, width, 3),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(width, 2),
        )

    report = coord_check(cnn, (4, 8), steps=2, optimizer="sgd", loss=loss)
    assert seen == [(16, 3, 16, 16)] * 2 and list(report.values)[:2] == ["0", "1"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"optimizer": "adamw"}, ValueError, "one of 'adam', 'sgd'; got 'adamw'"),
        ({"widths": [32]}, ValueError, "at least two different widths"),
        ({"widths": [32, 32]}, ValueError, "at least two different widths"),
        ({"widths": 32}, TypeError, "sequence of ints"),
        ({"widths": [0, 32]}, ValueError, "each width must be >= 1"),
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"lr": -1.0}, ValueError, "lr must be positive"),
        ({"base": 32}, ValueError, "needs scheme='mup'"),
        ({"layers": "nothing.*"}, ValueError, "matches no module"),
        ({"loss": 3}, TypeError, "loss must be a callable"),
    ],
)
def test_errors_name_the_value(kwargs: dict, error: type, match: str) -> None:
    arguments = {"widths": (8, 16), **kwargs}
    with pytest.raises(error, match=match):
        coord_check(mlp, **arguments)


def test_build_must_return_a_module() -> None:
    with pytest.raises(TypeError, match=r"build\(8\) must return a torch.nn.Module; got list"):
        coord_check(lambda w: [w], (8, 16))
    with pytest.raises(ValueError, match="one architecture at every width"):
        coord_check(lambda w: mlp(w) if w == 8 else torch.nn.Linear(32, 10), (8, 16), steps=1)


@pytest.mark.parametrize(
    ("widths", "values", "match"),
    [
        ((32,), {"fc": [[1.0]]}, "at least two different widths"),
        ((32, 64), {"fc": [[1.0]]}, r"values\['fc'\] must hold one value per width \(2\)"),
        ((32, 64), {"a": [[1.0, 1.0]], "b": [[1.0, 1.0]] * 2}, "'b' has 2, others 1"),
        ((32, 64), {}, "at least one layer"),
    ],
)
def test_report_checks_its_values(widths: tuple, values: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CoordReport(widths, values)
