"""examples/tour.py runs top to bottom, with and without Graphviz, and the notebook made from it
is up to date."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
sys.path.insert(0, EXAMPLES)
import make_tour_notebook  # noqa: E402

PICTURES = ["1_scalar", "2_broadcasting", "4_batchnorm_fused_vs_composed"]


def run_tour(out, path=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    if path is not None:
        env["PATH"] = path
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "tour.py"), "--out", str(out)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_tour_draws_svg_pictures(tmp_path):
    out = run_tour(tmp_path / "tour")
    assert f"pictures go to {tmp_path / 'tour'}/ as .svg files" in out
    assert "fused:  1 ops" in out and "formula, central differences and the engine agree" in out
    for name in PICTURES:
        assert "<svg" in (tmp_path / "tour" / f"{name}.svg").read_text()


def test_tour_without_graphviz_writes_dot_files(tmp_path):
    out = run_tour(tmp_path / "tour", path=str(tmp_path))  # a PATH with no `dot` on it
    assert "dot -Tsvg FILE.dot -o FILE.svg" in out
    for name in PICTURES:
        assert (tmp_path / "tour" / f"{name}.dot").read_text().startswith("digraph autograd {")
    try:  # the second-derivative section follows create_graph: a placeholder until it exists
        import tinygrad_bn as tg
        x = tg.tensor(2.0, requires_grad=True)
        (x ** 3).backward(create_graph=True)
    except NotImplementedError:
        assert "second derivatives: coming with create_graph" in out
    else:
        assert "d²y/dx² = 12.0" in out and (tmp_path / "tour" / "5_second_derivative.dot").exists()


def test_notebook_is_made_from_the_script():
    with open(make_tour_notebook.SCRIPT, encoding="utf-8") as f:
        expected = make_tour_notebook.notebook_text(f.read())
    with open(make_tour_notebook.NOTEBOOK, encoding="utf-8") as f:
        assert f.read() == expected, "examples/tour.ipynb is out of date: run examples/make_tour_notebook.py"


def test_notebook_cells():
    cells = make_tour_notebook.split_cells("# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n")
    assert [make_tour_notebook.cell_json(kind, lines) for kind, lines in cells] == [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "\n", "text"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["x = 1"]},
    ]
