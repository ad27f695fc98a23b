"""Tests for module_utils/pgha_table.py (the plain-text tables of the *_info modules)."""

from __future__ import annotations

from ansible.module_utils.pgha_table import text_table


def test_columns_are_as_wide_as_their_widest_cell():
    assert text_table(("A", "Bee"), [("long", "x"), ("", "yy")]) == [
        "+------+-----+",
        "| A    | Bee |",
        "+------+-----+",
        "| long | x   |",
        "|      | yy  |",
        "+------+-----+",
    ]


def test_right_aligned_columns_keep_a_left_aligned_header():
    lines = text_table(("Name", "Lag"), [("a", "7"), ("b", "12345")], right={1})
    assert lines[1] == "| Name | Lag   |"
    assert lines[3:5] == ["| a    |     7 |", "| b    | 12345 |"]


def test_no_rows_is_just_the_header():
    assert text_table(("X",), []) == ["+---+", "| X |", "+---+", "+---+"]
