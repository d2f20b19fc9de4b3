from tests.fixtures.write_log import committed_write_times, overlaps, write_windows

A = """\
1764243601.100 [811] LOG:  duration: 1.001 ms  statement: CREATE TABLE checker (v bigint PRIMARY KEY, node text)
1764243601.200 [812] LOG:  duration: 0.512 ms  statement: INSERT INTO checker (v, node) VALUES (1, 'a')
1764243601.250 [813] LOG:  duration: 0.040 ms  statement: SELECT pg_is_in_recovery()
1764243601.300 [812] LOG:  duration: 0.498 ms  statement: INSERT INTO checker (v, node) VALUES (3, 'a')
1764243601.301 [812] LOG:  statement: INSERT INTO checker (v, node) VALUES (4, 'a')
1764243601.400 [812] WARNING:  canceling wait for synchronous replication due to user request
"""
B = """\
1764243601.210 [900] ERROR:  cannot execute INSERT in a read-only transaction
1764243601.210 [900] STATEMENT:  INSERT INTO checker (v, node) VALUES (2, 'b')
1764243603.050 [901] LOG:  duration: 0.700 ms  statement: INSERT INTO checker (v, node) VALUES (5, 'b')
1764243603.060 [901] LOG:  duration: 0.650 ms  statement: INSERT INTO checker (v, node) VALUES (6, 'b')
"""


def test_only_completed_checker_inserts_count_as_committed_writes() -> None:
    assert committed_write_times(A) == [1764243601.2, 1764243601.3]
    assert committed_write_times(B) == [1764243603.05, 1764243603.06]
    assert committed_write_times("") == []


def test_windows_one_after_the_other_do_not_overlap() -> None:
    windows = write_windows({"b": B, "a": A})
    assert [(w.node, w.first, w.last, w.writes) for w in windows] == [
        ("a", 1764243601.2, 1764243601.3, 2),
        ("b", 1764243603.05, 1764243603.06, 2),
    ]
    assert overlaps(windows) == []


def test_a_write_on_b_inside_a_window_is_an_overlap() -> None:
    late_b = "1764243601.250 [902] LOG:  duration: 0.3 ms  statement: INSERT INTO checker (v, node) VALUES (7, 'b')\n"
    windows = write_windows({"a": A, "b": late_b + B})
    assert [(x.node, y.node) for x, y in overlaps(windows)] == [("a", "b")]


def test_a_node_that_committed_nothing_has_no_window() -> None:
    assert [w.node for w in write_windows({"a": A, "b": "", "c": "no checker writes here\n"})] == ["a"]
