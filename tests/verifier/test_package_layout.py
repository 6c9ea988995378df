"""The verifier's modules import each other without a circle (docs/audit.md, "The verifier's layout"): a module
imports only modules below it, so each can be read, tested and replaced from the bottom up. Function-level imports
count too (grimp sees every import statement)."""

from __future__ import annotations

import grimp

from verifier import kinds


def cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Every import circle between two modules of ``package``, as the chain that closes it."""
    found: list[list[str]] = []
    for module in sorted(m for m in graph.modules if m == package or m.startswith(package + ".")):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported.startswith(package) and graph.chain_exists(importer=imported, imported=module):
                back = graph.find_shortest_chain(importer=imported, imported=module) or ()
                found.append([module, *back])
    return found


def test_the_verifier_has_no_import_cycles() -> None:
    graph = grimp.build_graph("verifier", cache_dir=None)
    assert cycles(graph, "verifier") == []


def test_a_circle_is_found() -> None:
    """The check itself, on a graph with a circle (what verifier.audit and verifier.rules.steps once formed)."""
    graph = grimp.ImportGraph()
    for m in ("v", "v.audit", "v.rules", "v.rules.steps", "v.model"):
        graph.add_module(m)
    graph.add_import(importer="v.audit", imported="v.model")
    graph.add_import(importer="v.rules.steps", imported="v.audit")
    assert cycles(graph, "v") == []
    graph.add_import(importer="v.audit", imported="v.rules.steps")
    assert cycles(graph, "v") == [
        ["v.audit", "v.rules.steps", "v.audit"],
        ["v.rules.steps", "v.audit", "v.rules.steps"],
    ]


def test_the_registry_refuses_a_split_of_the_kinds_that_share_document_citations() -> None:
    import dataclasses

    import pytest

    split = tuple(dataclasses.replace(k, process="main") if k.name == "housing" else k for k in kinds.KINDS)
    with pytest.raises(TypeError, match="one process"):
        kinds._check(split)
    twice = (*kinds.KINDS, dataclasses.replace(kinds.KINDS[0], name="other"))
    with pytest.raises(TypeError, match="prefix used twice"):
        kinds._check(twice)
    kinds._check(kinds.KINDS)


def test_every_row_names_rules_that_replay_its_kind() -> None:
    for k in kinds.KINDS:
        cls = kinds.rules_class(k.rules)
        assert callable(cls.handle), k.name
        assert (k.state_part is None) or callable(cls.state_items), k.name
