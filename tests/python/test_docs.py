# SPDX-License-Identifier: MIT
"""The examples of docs/python.md and of the docstrings run and give what they show."""
import doctest
import pathlib
import re

import numpy as np
import pytest

import denseam
DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "python.md"


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_docs_python_md_example_runs(capsys):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert blocks, "docs/python.md has no ```python block"
    for block in blocks:
        assert len(block.strip().splitlines()) <= 15, "keep the example short"
        namespace = {"__name__": "docs_example"}
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
        res = namespace["res"]
        assert isinstance(res, denseam.RetrievalResult) and len(res) == 5
    assert "RetrievalResult(n_queries=5" in capsys.readouterr().out


DOCSTRING_OBJECTS = {
    "energy": denseam.energy,
    "grad": denseam.grad,
    "energy_and_grad": denseam.energy_and_grad,
    "retrieve": denseam.retrieve,
    "Memory": denseam.Memory,
}


@pytest.mark.parametrize("name", list(DOCSTRING_OBJECTS))
def test_docstring_examples(name):
    obj = DOCSTRING_OBJECTS[name]
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs={"np": np, "denseam": denseam})
    examples = sum(len(t.examples) for t in tests)
    assert examples > 0, f"{name} has no example in its docstring"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0, f"{runner.failures} docstring example(s) of {name} failed (see above)"


@pytest.mark.parametrize("name", list(DOCSTRING_OBJECTS) + ["RetrievalResult"])
def test_docstrings_state_formula_and_shapes(name):
    doc = getattr(denseam, name).__doc__
    assert doc and len(doc) > 200
    if name in ("energy", "Memory"):
        assert "E(x) = -Q[ eps + sum_mu F(beta * S(x, xi_mu)) ]" in doc
    if name == "energy":
        assert "c_d = V_d h^d 2/(d+2)" in doc and "(B,)" in doc
