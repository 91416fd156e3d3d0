import uuid
from datetime import UTC, datetime

import pytest
from rally_shared.errors import BadRequest
from rally_shared.pagination import PageParams, decode_cursor, encode_cursor, make_page


def test_cursor_round_trip_keeps_types():
    ts = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert decode_cursor(encode_cursor(ts, "abc")) == (ts, "abc")


@pytest.mark.parametrize("bad", ["", "%%%", "bm90IGpzb24", encode_cursor()])
def test_bad_cursors_are_400(bad):
    with pytest.raises(BadRequest):
        decode_cursor(bad)


def test_make_page_sets_next_cursor_only_when_more():
    page = make_page([1, 2, 3], 2, lambda x: (x,))
    assert page.items == [1, 2] and decode_cursor(page.next_cursor) == ("2",)
    assert make_page([1, 2], 2, lambda x: (x,)).next_cursor is None


def test_typed_keyset_converts_or_refuses():
    at, ident = datetime(2026, 1, 2, tzinfo=UTC), uuid.uuid4()
    page = PageParams(cursor=encode_cursor(at, ident))
    assert page.keyset(datetime, uuid.UUID) == (at, ident)
    assert PageParams(cursor=encode_cursor(3)).keyset(int) == (3,)
    assert PageParams().keyset(datetime, uuid.UUID) is None
    for bad, types in [((at, "nope"), (datetime, uuid.UUID)), (("x", ident), (datetime, uuid.UUID)),
                       ((at,), (datetime, uuid.UUID)), (("seven",), (int,))]:
        with pytest.raises(BadRequest):
            PageParams(cursor=encode_cursor(*bad)).keyset(*types)
