"""`deskbridge routing evaluate` on a labelled file with mistakes: every mistake is listed with
its place, in the file's order, exit code 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from deskbridge.cli import main
from deskbridge.config.settings import EXAMPLE_CONFIG

KNOWN = "logistics, none, post_sales, quality"


def evaluate(path) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["routing", "evaluate", str(path), "--config", str(EXAMPLE_CONFIG)]
    )
    return result.exit_code, result.stderr


def test_json_lines_mistakes_are_listed_in_line_order(tmp_path):
    path = tmp_path / "team.jsonl"
    path.write_text(
        '{"id": "T1", "subject": "Where is my parcel?", "department": "logistics"}\n'
        '{"id": "T2", "subject": "Broken leg"}\n'
        '{"id": "T3", "subject": "Refund please", "department": "refunds"}\n'
        "not json\n"
        '{"id": "T1", "subject": "Again", "department": "none"}\n'
    )

    assert evaluate(path) == (
        1,
        f"{path}: 4 problems\n"
        "  line 2.department: required field is missing\n"
        f"  line 3.department: unknown department 'refunds' (expected one of {KNOWN})\n"
        "  line 4: invalid JSON: Expecting value\n"
        "  line 5.id: 'T1' appears twice\n",
    )


def test_json_lines_python_cannot_read_are_listed_not_a_traceback(tmp_path):
    # json.loads raises a plain ValueError for an integer longer than Python converts and
    # RecursionError past the nesting limit, not JSONDecodeError.
    path = tmp_path / "team.jsonl"
    path.write_text(
        '{"id": "T1", "subject": "Where is my parcel?", "department": "logistics"}\n'
        + '{"id": '
        + "9" * 5000
        + "}\n"
        + "[" * 100_000
        + "]" * 100_000
        + "\n"
    )

    assert evaluate(path) == (
        1,
        f"{path}: 2 problems\n"
        "  line 2: invalid JSON: a number longer than 4300 digits\n"
        "  line 3: invalid JSON: nested too deeply\n",
    )


def test_every_mistake_of_a_ticket_is_listed_at_once(tmp_path):
    # A ticket without an id and with an unknown department: both, not the first alone.
    path = tmp_path / "team.yaml"
    path.write_text(
        "- {id: A, subject: Late, department: logistics}\n"
        "- {subject: Late again, department: shipping}\n"
    )

    assert evaluate(path) == (
        1,
        f"{path}: 2 problems\n"
        "  [1].id: required field is missing\n"
        f"  [1].department: unknown department 'shipping' (expected one of {KNOWN})\n",
    )


def test_a_repeated_id_is_listed_with_the_entrys_other_mistakes(tmp_path):
    # An entry with a misspelt field was passed over whole: its id, repeated from the entry
    # above or below, was said only once the field was mended, on the next run.
    path = tmp_path / "team.yaml"
    path.write_text(
        "- {id: A, subject: Late, department: logistics}\n"
        "- {id: A, subjet: Late again, department: logistics}\n"
        "- {id: B, subject: Broken, department: shipping}\n"
        "- {id: B, subject: Broken again, department: quality}\n"
    )

    assert evaluate(path) == (
        1,
        f"{path}: 4 problems\n"
        "  [1].subjet: unknown field (check the spelling; a ticket has id, subject, description,"
        " tags, customer_messages, department, category, why)\n"
        "  [1].id: 'A' appears twice\n"
        f"  [2].department: unknown department 'shipping' (expected one of {KNOWN})\n"
        "  [3].id: 'B' appears twice\n",
    )


def test_a_tickets_number_is_an_id_and_other_values_are_asked_as_the_rules_file_asks(tmp_path):
    # A team's export has its ticket numbers as ids (`id: 48213`, a number to YAML): each was
    # refused, "Input should be a valid string"; one tag without brackets was "Input should
    # be a valid list", and a subject that is a number the same string error.
    path = tmp_path / "team.yaml"
    path.write_text(
        "- {id: 48213, subject: Where is my parcel, department: logistics}\n"
        "- {id: 48214, subject: 404, tags: late_delivery, department: logistics}\n"
        "- {id: '48213', subject: Late again, department: logistics}\n"
        "- {id: 1.5, subject: Broken, customer_messages: Still broken, department: quality}\n"
    )

    as_list = "expected a list, got a string; for one item, write it in brackets: "
    assert evaluate(path) == (
        1,
        f"{path}: 5 problems\n"
        "  [1].subject: expected text, got a number: write it in quotes\n"
        f'  [1].tags: {as_list}["late_delivery"]\n'
        "  [2].id: '48213' appears twice\n"
        "  [3].id: expected text, got a number: write it in quotes\n"
        f'  [3].customer_messages: {as_list}["Still broken"]\n',
    )

    path.write_text("- {id: 48213, subject: Where is my parcel, department: logistics}\n")
    result = CliRunner().invoke(
        main, ["routing", "evaluate", str(path), "--config", str(EXAMPLE_CONFIG)]
    )
    assert (result.exit_code, result.stdout.splitlines()[0]) == (
        0,
        "1 ticket: 1 correct (100.0%), 0 misrouted (0.0%), 0 unclassified (0.0%)",
    )


def test_an_entry_that_is_no_ticket_is_named_by_its_place(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(
        "- {id: A, subject: Late, department: logistics}\n"
        "- Where is my parcel?\n"
        "- 42\n"
        "- [a, b]\n"
        "-\n"
        "- {id: B, subject: Late again, department: shipping}\n"
    )

    assert evaluate(path) == (
        1,
        f"{path}: 5 problems\n"
        "  [1]: expected a ticket with id and department, got a string\n"
        "  [2]: expected a ticket with id and department, got a number\n"
        "  [3]: expected a ticket with id and department, got a list\n"
        "  [4]: expected a ticket with id and department, got nothing\n"
        f"  [5].department: unknown department 'shipping' (expected one of {KNOWN})\n",
    )


def test_a_json_line_that_is_no_ticket_is_named_by_its_line(tmp_path):
    path = tmp_path / "team.jsonl"
    path.write_text(
        '{"id": "T1", "subject": "Where is my parcel?", "department": "logistics"}\n'
        '"Where is my parcel?"\n'
        "true\n"
        "null\n"
    )

    assert evaluate(path) == (
        1,
        f"{path}: 3 problems\n"
        "  line 2: expected a ticket with id and department, got a string\n"
        "  line 3: expected a ticket with id and department, got true/false\n"
        "  line 4: expected a ticket with id and department, got nothing\n",
    )


def test_yaml_that_does_not_parse_is_one_line_with_its_place(tmp_path):
    """Was PyYAML's own text over five lines, quoting "<unicode string>"."""
    path = tmp_path / "team.yaml"
    path.write_text("- id: T1\n  subject: [Late\n")

    assert evaluate(path) == (
        1,
        f"{path}: 1 problem\n"
        "  line 3, column 1: not valid YAML: expected ',' or ']', but got '<stream end>'\n",
    )


def test_a_value_its_yaml_tag_cannot_read_is_one_line_with_its_place(tmp_path):
    """Was a traceback: yaml.safe_load raised ValueError on `!!int abc`."""
    path = tmp_path / "team.yaml"
    path.write_text("- id: T1\n  subject: !!int abc\n  department: logistics\n")

    assert evaluate(path) == (
        1,
        f"{path}: 1 problem\n"
        '  line 2, column 12: not valid YAML: "abc" is not a whole number, as its tag !!int '
        "says\n",
    )


def test_json_lines_in_a_file_not_named_so_say_which_names_are_read_so(tmp_path):
    path = tmp_path / "team.txt"
    path.write_text(
        '{"id": "T1", "subject": "Where is my parcel?", "department": "logistics"}\n'
        '{"id": "T2", "subject": "Broken leg", "department": "quality"}\n'
    )

    assert evaluate(path) == (
        1,
        f"{path}: 1 problem\n"
        "  line 2, column 1: not valid YAML: expected '<document start>', but found '{' "
        "(JSON Lines are read from a .jsonl or .ndjson file)\n",
    )


def test_a_file_that_is_not_utf8_says_so_as_check_config_does(tmp_path):
    """Was Python's "'utf-8' codec can't decode byte 0xe9 in position 20: invalid continuation
    byte"."""
    path = tmp_path / "team.yaml"
    path.write_bytes("- {id: A, subject: Caf\u00e9, department: quality}\n".encode("latin-1"))

    assert evaluate(path) == (1, f"{path}: 1 problem\n  (file): not UTF-8 text (byte 22)\n")


def test_labelled_tickets_saved_as_utf16_with_its_mark_are_read(tmp_path):
    # As Windows PowerShell's `>` writes them: was "not UTF-8 text (byte 0)".
    path = tmp_path / "team.jsonl"
    path.write_bytes(
        '{"id": "T1", "subject": "Where is my parcel?", "department": "logistics"}\n'.encode(
            "utf-16"
        )
    )

    result = CliRunner().invoke(
        main, ["routing", "evaluate", str(path), "--config", str(EXAMPLE_CONFIG)]
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("1 ticket: 1 correct (100.0%)")


def test_a_misspelt_field_is_refused_not_read_as_missing(tmp_path):
    # "subjet" was read as a ticket without a subject: scored unclassified, exit 0.
    fields = "id, subject, description, tags, customer_messages, department, category, why"
    yaml_path = tmp_path / "team.yaml"
    yaml_path.write_text(
        '- {id: T1, subjet: "Where is my parcel?", department: logistics}\n'
        "- {id: T2, subject: Broken leg, department: quality, category: damaged, why: a leg}\n"
    )
    jsonl_path = tmp_path / "team.jsonl"
    jsonl_path.write_text(
        '{"id": "T1", "tag": ["web"], "descripton": "my parcel is late", "department": "none"}\n'
    )

    assert evaluate(yaml_path) == (
        1,
        f"{yaml_path}: 1 problem\n"
        f"  [0].subjet: unknown field (check the spelling; a ticket has {fields})\n",
    )
    assert evaluate(jsonl_path) == (
        1,
        f"{jsonl_path}: 2 problems\n"
        f"  line 1.tag: unknown field (check the spelling; a ticket has {fields})\n"
        f"  line 1.descripton: unknown field (check the spelling; a ticket has {fields})\n",
    )


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Windows editors and Excel's "UTF-8" export start a file with a byte order mark: it was
    'line 1: invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig)'."""
    path = tmp_path / "team.jsonl"
    line = '{"id": "T1", "subject": "Where is my parcel?", "department": "logistics"}\n'
    path.write_bytes(b"\xef\xbb\xbf" + line.encode())

    result = CliRunner().invoke(
        main, ["routing", "evaluate", str(path), "--config", str(EXAMPLE_CONFIG)]
    )

    assert result.exit_code == 0, result.stderr
    assert "1 ticket" in result.stdout


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        # An empty YAML file was "expected a list of tickets", as if it held something else.
        ("team.yaml", "", "no tickets (the file is empty)"),
        ("team.yaml", "# labelled by Mia\n\n", "no tickets (the file is empty)"),
        ("team.jsonl", "", "no tickets (the file is empty)"),
        ("team.jsonl", "\n\n", "no tickets (the file is empty)"),
        ("team.yaml", "[]\n", "no tickets"),
        ("team.yaml", "id: A\nsubject: Late\n", "expected a list of tickets, got a mapping"),
    ],
)
def test_a_file_without_tickets_says_what_it_holds(tmp_path, name, text, problem):
    path = tmp_path / name
    path.write_text(text)

    assert evaluate(path) == (1, f"{path}: 1 problem\n  {problem}\n")


def test_the_help_says_misses_are_listed_unless_asked_not_to():
    # "--misses / --no-misses  list every ticket routed wrongly" left which one holds unsaid.
    result = CliRunner().invoke(main, ["routing", "evaluate", "--help"])

    assert "list every ticket routed wrongly [default: misses]" in " ".join(result.stdout.split())
