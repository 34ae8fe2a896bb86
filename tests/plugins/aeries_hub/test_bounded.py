"""read_bounded: a stream read in chunks up to a byte limit, refused or cut past it, with the deadline checked
before every chunk. The streams are real (io.BytesIO); the sizes asked of them are recorded."""

from __future__ import annotations

import io
import time

import pytest

from aeries_hub.bounded import READ_CHUNK, read_bounded


class TooLarge(Exception):
    pass


class Late(Exception):
    pass


def on_time() -> None:
    pass


def refuse() -> TooLarge:
    return TooLarge("too large")


class Recorded:
    """``io.BytesIO(data).read``, recording the size of each call."""

    def __init__(self, data: bytes):
        self.stream = io.BytesIO(data)
        self.asked: list[int] = []

    def __call__(self, size: int) -> bytes:
        self.asked.append(size)
        return self.stream.read(size)


@pytest.mark.parametrize("size", [0, 1, READ_CHUNK - 1, READ_CHUNK, READ_CHUNK + 1, 2 * READ_CHUNK + 7])
def test_a_stream_of_exactly_the_limit_is_read_whole_either_way(size):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert read_bounded(Recorded(data), size, check_deadline=on_time, too_large=refuse) == data
    assert read_bounded(Recorded(data), size, check_deadline=on_time) == data


def test_one_byte_past_the_limit_is_refused_or_cut():
    data = b"x" * (READ_CHUNK + 1)
    with pytest.raises(TooLarge):
        read_bounded(Recorded(data), READ_CHUNK, check_deadline=on_time, too_large=refuse)
    assert read_bounded(Recorded(data), READ_CHUNK, check_deadline=on_time) == data[:READ_CHUNK]
    with pytest.raises(TooLarge):
        read_bounded(Recorded(b"x"), 0, check_deadline=on_time, too_large=refuse)
    assert read_bounded(Recorded(b"x"), 0, check_deadline=on_time) == b""


def test_no_more_than_one_byte_past_the_limit_is_asked_for():
    limit = 2 * READ_CHUNK + 10
    refused = Recorded(b"y" * (10 * READ_CHUNK))
    with pytest.raises(TooLarge):
        read_bounded(refused, limit, check_deadline=on_time, too_large=refuse)
    assert refused.asked == [READ_CHUNK, READ_CHUNK, 11] and refused.stream.tell() == limit + 1

    cut = Recorded(b"y" * (10 * READ_CHUNK))
    assert read_bounded(cut, limit, check_deadline=on_time) == b"y" * limit
    assert cut.asked == [READ_CHUNK, READ_CHUNK, 11]


def test_a_short_stream_ends_at_its_first_empty_read():
    read = Recorded(b"abc")
    assert read_bounded(read, 100, check_deadline=on_time, too_large=refuse) == b"abc"
    assert read.asked == [101, 98]


def test_the_deadline_is_checked_before_every_chunk():
    read = Recorded(b"z" * (3 * READ_CHUNK))
    checks: list[int] = []

    def check_deadline() -> None:
        checks.append(read.stream.tell())
        if len(checks) == 3:
            raise Late("past the deadline")

    with pytest.raises(Late):
        read_bounded(read, 10 * READ_CHUNK, check_deadline=check_deadline, too_large=refuse)
    assert checks == [0, READ_CHUNK, 2 * READ_CHUNK] and len(read.asked) == 2


def test_a_passed_deadline_reads_nothing():
    deadline = time.monotonic()

    def check_deadline() -> None:
        if time.monotonic() >= deadline:
            raise Late("past the deadline")

    read = Recorded(b"abc")
    with pytest.raises(Late):
        read_bounded(read, 100, check_deadline=check_deadline)
    assert read.asked == []
