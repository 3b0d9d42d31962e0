"""The exported weight average (``train detector --ema``): its arithmetic, its resume, and what gets exported."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from converters.cli import main as convert_main  # noqa: E402
from converters.train.checkpointing import load_checkpoint  # noqa: E402
from converters.train.weight_average import WeightAverage  # noqa: E402


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def test_the_average_follows_the_decay_and_ramps_up():
    net = _net()
    start = net[0].weight.detach().clone()
    average = WeightAverage(net, decay=0.9, warmup=10)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    first = 0.9 * (1 - math.exp(-1 / 10))
    average.update(net)
    expected = first * start + (1 - first) * (start + 1.0)
    assert torch.allclose(average.average["0.weight"], expected)
    assert average.average["1.num_batches_tracked"].dtype == torch.long
    # The ramp: the second update keeps more of the average than the first did.
    assert average.current_decay() > first
    assert average.current_decay() < 0.9


def test_the_average_resumes_and_loads_into_the_model():
    net = _net()
    average = WeightAverage(net, decay=0.99)
    for _ in range(5):
        with torch.no_grad():
            net[0].bias.add_(0.5)
        average.update(net)
    resumed = WeightAverage(_net(), decay=0.5)
    resumed.load_state_dict(average.state_dict())
    assert resumed.updates == 5 and resumed.decay == 0.99
    assert torch.equal(resumed.average["0.bias"], average.average["0.bias"])
    average.copy_to(net)
    assert torch.equal(net[0].bias, average.average["0.bias"])
    with pytest.raises(KeyError, match="lacks"):
        resumed.load_state_dict({"decay": 0.9, "warmup": 1, "updates": 0, "average": {}})


@pytest.mark.parametrize("decay", [-0.1, 0.0, 1.0])
def test_a_decay_outside_zero_to_one_is_refused(decay):
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(_net(), decay=decay)


def test_training_with_ema_exports_the_average_and_keeps_the_last_step(data_dir, tmp_path):
    import onnx
    from onnx import numpy_helper

    out, checkpoints = tmp_path / "detector", tmp_path / "checkpoints"
    argv = ["train", "detector", "--data", str(data_dir), "--out", str(out), "--smoke", "--ema", "0.5"]
    argv += ["--init-from", "quantized_models/article_detector_fp32_onnx"]
    argv += ["--checkpoints", str(checkpoints), "--cache", str(tmp_path / "cache")]
    assert convert_main(argv) == 0
    state = load_checkpoint(checkpoints / "last.pt")
    assert state["finished"] and "last_step_model" in state and state["weight_average"]["updates"] == 4
    name = "head.cls_out.0.weight"  # a plain convolution: ONNX keeps its weights as they are
    averaged, last = state["model"][name].numpy(), state["last_step_model"][name].numpy()
    assert np.abs(averaged - last).max() > 0
    # The ONNX export holds the averaged weights, not the last step's.
    initialisers = [numpy_helper.to_array(t) for t in onnx.load(str(out / "article_detector.onnx")).graph.initializer]
    same_shape = [t for t in initialisers if t.shape == averaged.shape]
    assert any(np.array_equal(t, averaged) for t in same_shape)
    assert not any(np.array_equal(t, last) for t in same_shape)

    # Resumed once finished: nothing trains, the checkpoint's average stays the exported weights.
    assert convert_main([*argv, "--resume"]) == 0
    again = load_checkpoint(checkpoints / "last.pt")
    assert np.array_equal(again["model"][name].numpy(), averaged)


def test_an_ema_of_one_is_a_usage_error(data_dir, tmp_path, capsys):
    argv = ["train", "detector", "--data", str(data_dir), "--out", str(tmp_path / "o"), "--smoke", "--ema", "1"]
    argv += ["--checkpoints", str(tmp_path / "c"), "--cache", str(tmp_path / "cache")]
    assert convert_main(argv) == 2
    assert "--ema" in capsys.readouterr().err
