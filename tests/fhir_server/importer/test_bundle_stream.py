"""The streaming Bundle scanner: entries found whatever the layout and chunking, resumable at an entry."""

from __future__ import annotations

import io
import json

import pytest

from fhir_server.importer import bundle_stream
from fhir_server.importer.bundle_stream import BundleScan, scan_bundle

TRICKY = {
    "resourceType": "Bundle", "id": "b{[\"", "type": "collection",
    "meta": {"tag": [{"code": "entry"}]},
    "link": [{"relation": "self", "url": "http://x/entry?a=[1]"}],
    "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "name": [{"family": "O\"Brien}{]["}]}},
        {"resource": {"resourceType": "Observation", "valueString": "\\\\\"", "note": [{"text": "é ü 漢"}]}},
        {"resource": {"resourceType": "Basic", "extension": [{"url": "u", "valueString": "entry"}]}},
    ],
    "signature": {"data": "entry"},
}


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize("indent", [None, 1])
def test_entries_are_found_whatever_the_chunking(monkeypatch, chunk, indent):
    monkeypatch.setattr(bundle_stream, "CHUNK", chunk)
    data = json.dumps(TRICKY, indent=indent, ensure_ascii=False).encode()
    scan = BundleScan()
    found = list(scan_bundle(io.BytesIO(data), scan=scan))
    assert [json.loads(raw) for _, _, raw in found] == TRICKY["entry"]
    assert all(data[start:end] == raw for start, end, raw in found)
    assert scan.top == {"resourceType": "Bundle", "type": "collection"} and scan.saw_entries
    resumed = list(scan_bundle(io.BytesIO(data), start=found[0][1]))
    assert [raw for _, _, raw in resumed] == [raw for _, _, raw in found[1:]]


def test_a_bundle_without_entries_and_a_plain_resource():
    scan = BundleScan()
    assert list(scan_bundle(io.BytesIO(b'{"resourceType":"Bundle","type":"batch"}'), scan=scan)) == []
    assert scan.top["type"] == "batch" and not scan.saw_entries
    scan = BundleScan()
    assert list(scan_bundle(io.BytesIO(b'{"resourceType":"Patient","entry":"x"}'), scan=scan)) == []
    assert scan.top["resourceType"] == "Patient"
