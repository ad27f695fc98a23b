# -*- coding: utf-8 -*-
# The plain-text tables the *_info modules print (patronictl list style), shared by pgha_patroni, pgha_etcd and
# pgha_haproxy. Standard library only, like every module_utils file: it is shipped to the managed nodes.
"""Plain-text tables: columns as wide as their widest cell, framed by ``+---+`` rules."""

from __future__ import annotations

from typing import Collection, List, Sequence


def text_table(columns: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int] = ()) -> List[str]:
    """The lines of a table: a rule, the header, a rule, one line per row, a rule.

    The cells of the columns whose index is in ``right`` are right-aligned (numbers); the header is left-aligned.
    """
    widths = [len(c) for c in columns]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str], align: Collection[int]) -> str:
        return "|" + "|".join(" %s " % (c.rjust(w) if i in align else c.ljust(w))
                              for i, (w, c) in enumerate(zip(widths, cells))) + "|"

    return [rule, line(columns, ()), rule] + [line(row, right) for row in rows] + [rule]
