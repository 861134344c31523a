"""The ids the server makes: version 7 UUIDs, so ids made later sort after ids made earlier."""

from __future__ import annotations

import time
import uuid

from fhir_server.ids import new_id
from fhir_server.services.preparation import ID_PATTERN


def test_a_new_id_is_a_version_7_uuid_of_the_current_millisecond():
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(made)
    assert str(parsed) == made and ID_PATTERN.fullmatch(made)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after


def test_ids_made_in_later_milliseconds_sort_after_earlier_ones():
    earlier = [new_id() for _ in range(50)]
    time.sleep(0.002)
    later = [new_id() for _ in range(50)]
    assert max(earlier) < min(later)
    assert len(set(earlier + later)) == 100  # 74 random bits each


def test_ids_made_in_the_same_millisecond_differ_in_their_random_bits():
    ids = [uuid.UUID(new_id()) for _ in range(1000)]
    assert len({i.int & ((1 << 74) - 1) for i in ids}) == 1000
