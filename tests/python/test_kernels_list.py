# SPDX-License-Identifier: MIT
"""The kernel list of the module (from the C++ kernel policies) against the type stubs.

python/denseam/_denseam.pyi spells the kernel names once, in the `_Kernel` Literal alias, and
every `kernel=` parameter is annotated with that alias; both must follow the library's list.
"""
import ast
import pathlib

import denseam

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
STUB = REPO_ROOT / "python" / "denseam" / "_denseam.pyi"


def _stub_tree():
    return ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))


def _literal_alias(tree, alias):
    """The strings of `alias = Literal[...]` at module level of the stub."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == alias
        ):
            value = node.value
            assert isinstance(value, ast.Subscript), f"{alias} is not a Literal[...]"
            assert isinstance(value.value, ast.Name) and value.value.id == "Literal"
            elts = value.slice.elts if isinstance(value.slice, ast.Tuple) else [value.slice]
            names = [e.value for e in elts]
            assert all(isinstance(n, str) for n in names)
            return names
    raise AssertionError(f"no `{alias} = Literal[...]` in {STUB}")


def test_stub_literal_lists_every_kernel_in_order():
    assert _literal_alias(_stub_tree(), "_Kernel") == denseam.kernel_names()


def test_kernels_tuple_is_the_library_list():
    assert list(denseam.KERNELS) == denseam.kernel_names()
    assert len(set(denseam.KERNELS)) == len(denseam.KERNELS)


def test_every_kernel_parameter_uses_the_alias():
    tree = _stub_tree()
    seen = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for a in args.posonlyargs + args.args + args.kwonlyargs:
                if a.arg == "kernel":
                    seen += 1
                    assert isinstance(a.annotation, ast.Name) and a.annotation.id == "_Kernel", (
                        f"{node.name}(kernel=...) is not annotated with _Kernel"
                    )
    assert seen > 0, "no kernel= parameter found in the stub"


def test_every_listed_kernel_is_accepted():
    memories = [[0.0, 0.0], [1.0, 0.0]]
    queries = [[0.25, 0.0]]
    for name in denseam.kernel_names():
        e = denseam.energy(memories, queries, kernel=name, beta=1.0)
        assert e.shape == (1,)
