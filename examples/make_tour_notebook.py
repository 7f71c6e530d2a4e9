"""Make the notebook examples/tour.ipynb from the script examples/tour.py.

The script is the source: cells are separated by ``# %%`` lines (the "percent" format that
Jupytext, VS Code and Spyder read); a ``# %% [markdown]`` cell's lines are comments whose text
becomes Markdown. The notebook is written without outputs, so it changes only when the script
does; ``tests/test_tour.py`` checks that it is up to date.

    python examples/make_tour_notebook.py           # write examples/tour.ipynb
    python examples/make_tour_notebook.py --check   # exit 1 if it is out of date
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "tour.py")
NOTEBOOK = os.path.join(HERE, "tour.ipynb")


def split_cells(source: str) -> list:
    """[(kind, lines)] for each ``# %%`` cell of the script; kind is 'code' or 'markdown'."""
    cells = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
    return cells


def cell_json(kind: str, lines: list) -> dict:
    """One notebook cell; Markdown lines lose their leading '# '."""
    if kind == "markdown":
        lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    source = [line + "\n" for line in lines[:-1]] + lines[-1:]  # Jupyter's layout: no final newline
    if kind == "markdown":
        return {"cell_type": "markdown", "metadata": {}, "source": source}
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def notebook_text(source: str) -> str:
    """The .ipynb (nbformat 4) text for the script `source`."""
    notebook = {
        "cells": [cell_json(kind, lines) for kind, lines in split_cells(source)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the notebook is up to date")
    args = parser.parse_args(argv)
    with open(SCRIPT, encoding="utf-8") as f:
        text = notebook_text(f.read())
    if args.check:
        with open(NOTEBOOK, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{NOTEBOOK} is out of date: run python examples/make_tour_notebook.py")
                return 1
        print(f"{NOTEBOOK} is up to date")
        return 0
    with open(NOTEBOOK, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
