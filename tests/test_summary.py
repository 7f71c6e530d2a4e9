"""tinygrad_bn.nn.summary: layer rows, totals and memory, and a model left exactly as it was."""
import numpy as np
import pytest

import tinygrad_bn as tg
from tinygrad_bn import models, nn


class TwoLayers(nn.Module):
    """Not a Sequential: its forward decides how the children are called."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(8, 2))

    def forward(self, x):
        return self.head(self.fc1(x))


def test_summary_is_exported():
    assert tg.nn.summary is nn.summary and "summary" in nn.__all__


def test_lenet_rows_totals_and_memory():
    model = models.lenet()
    s = nn.summary(model, (256, 1, 28, 28))
    root, *layers = s.rows
    assert (root.name, root.type_name, root.output_shape, root.depth) == ("", "Sequential", (256, 10), 0)
    assert [r.type_name for r in layers] == [type(m).__name__ for m in model]
    assert [r.name for r in layers] == [str(i) for i in range(16)] and {r.depth for r in layers} == {1}
    assert [r.output_shape for r in layers[:4]] == [(256, 6, 24, 24)] * 3 + [(256, 6, 12, 12)]
    assert layers[8].output_shape == (256, 256) and layers[15].output_shape == (256, 10)
    assert [r.num_params for r in layers[:2]] == [6 * 25 + 6, 12]
    n = sum(p.numel() for p in model.parameters())
    assert s.total_params == s.trainable_params == root.num_params == n == 44_878
    assert s.param_bytes == 4 * n and s.input_bytes == 4 * 256 * 784
    assert s.buffer_bytes == sum(b.numel() * b.element_size() for b in model.buffers())
    outputs = [256 * 6 * 24 * 24] * 3 + [256 * 6 * 12 * 12] + [256 * 16 * 8 * 8] * 3 + [256 * 256] * 2 \
        + [256 * 120] * 3 + [256 * 84] * 3 + [256 * 10]
    assert s.output_bytes == 4 * sum(outputs)
    assert 0 < s.saved_bytes < s.output_bytes  # fused BN and ops that save their output keep less


def test_table_text():
    text = str(nn.summary(models.lenet(), (2, 1, 28, 28)))
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "(type)", "Output", "shape", "Param", "#"]
    assert lines[2].split() == ["Sequential", "(2,", "10)", "44,878"]
    assert lines[3].split() == ["0", "(Conv2d)", "(2,", "6,", "24,", "24)", "156"]
    assert "Total params: 44,878" in lines and "Non-trainable params: 0" in lines
    assert "Params size: 175.30 KiB" in lines
    assert repr(nn.summary(models.lenet(), (2, 1, 28, 28))) == text


def test_model_is_left_as_it_was():
    tg.manual_seed(0)
    model = models.lenet()
    model.train()
    model[1].eval()  # a mixed state must come back exactly
    state = {k: v.copy() for k, v in model.state_dict().items()}
    tg.manual_seed(1)
    before = tg.randn(3).numpy()
    tg.manual_seed(1)
    nn.summary(model, (8, 1, 28, 28))
    assert [m.training for m in model.modules()] == [m is not model[1] for m in model.modules()]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, state[k])  # running statistics and num_batches_tracked too
    np.testing.assert_array_equal(tg.randn(3).numpy(), before)  # the random stream is untouched
    assert all(p.grad is None for p in model.parameters())


def test_batch_of_one_works_with_batch_norm():
    s = nn.summary(models.lenet(), (1, 1, 28, 28))  # eval mode: no "more than 1 value" error
    assert s.rows[0].output_shape == (1, 10)


def test_other_modules_are_one_row_with_their_children_listed():
    model = nn.Sequential(nn.Flatten(), TwoLayers(), nn.Sequential(nn.Tanh(), nn.Dropout(0.5)))
    s = nn.summary(model, (3, 2, 2))
    rows = [(r.name, r.type_name, r.depth, r.output_shape, r.num_params) for r in s.rows]
    assert rows == [
        ("", "Sequential", 0, (3, 2), 58),
        ("0", "Flatten", 1, (3, 4), 0),
        ("1", "TwoLayers", 1, (3, 2), 58),
        ("1.fc1", "Linear", 2, None, 40),
        ("1.head", "Sequential", 2, None, 18),
        ("1.head.0", "ReLU", 3, None, 0),
        ("1.head.1", "Linear", 3, None, 18),
        ("2", "Sequential", 1, (3, 2), 0),
        ("2.0", "Tanh", 2, (3, 2), 0),
        ("2.1", "Dropout", 2, (3, 2), 0),
    ]
    assert "1.fc1 (Linear)" in str(s) and " -- " in str(s)


def test_shared_and_frozen_parameters():
    layer = nn.Linear(3, 3)
    model = nn.Sequential(layer, nn.ReLU(), layer)  # one Linear called twice
    layer.bias.requires_grad = False
    s = nn.summary(model, [5, 3])
    assert [r.name for r in s.rows] == ["", "0", "1", "2"] and s.rows[3].output_shape == (5, 3)
    assert s.total_params == 12 and s.trainable_params == 9
    assert "Non-trainable params: 3" in str(s)


@pytest.mark.parametrize("bad", [(), (2, 0), (2, -1), (2.0, 3), "23", None, (True, 2), 4])
def test_bad_input_size(bad):
    with pytest.raises(ValueError, match="input_size"):
        nn.summary(nn.Linear(2, 2), bad)


def test_not_a_module():
    with pytest.raises(TypeError, match="Module"):
        nn.summary(lambda x: x, (1, 2))


def test_device(device):
    model = nn.Sequential(nn.Linear(4, 2)).to(device)
    assert nn.summary(model, (3, 4), device=device).rows[0].output_shape == (3, 2)
