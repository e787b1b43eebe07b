"""The JSON 200 answers (connectors/connector.py build_json_answer): compact, key-sorted, the
bytes Flask's jsonify gives; the few that answer nearly every webhook are encoded once."""

from __future__ import annotations

from deskbridge.connectors.connector import Answer, build_json_answer


def test_an_answer_is_compact_key_sorted_json_with_a_newline():
    assert build_json_answer({"status": "accepted", "events": 1}) == Answer(
        b'{"events":1,"status":"accepted"}\n', "application/json"
    )


def test_the_same_summary_is_answered_with_the_same_bytes_each_time():
    first = build_json_answer({"status": "duplicate", "events": 1})
    again = build_json_answer({"events": 1, "status": "duplicate"})
    assert again == first == Answer(b'{"events":1,"status":"duplicate"}\n', "application/json")


def test_values_equal_in_python_but_not_in_json_get_their_own_answers():
    # 1 == True == 1.0 and they hash alike: an answer kept for one must not serve another.
    assert build_json_answer({"events": 1}).content == b'{"events":1}\n'
    assert build_json_answer({"events": True}).content == b'{"events":true}\n'
    assert build_json_answer({"events": 1.0}).content == b'{"events":1.0}\n'


def test_a_summary_with_a_list_is_encoded_without_the_cache():
    assert build_json_answer({"status": "ignored", "ids": ["a", "b"]}).content == (
        b'{"ids":["a","b"],"status":"ignored"}\n'
    )
