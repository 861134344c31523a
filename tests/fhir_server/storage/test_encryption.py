"""Bodies are sealed with AES-256-GCM at rest, bound to their row, and keys rotate without downtime."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update

from fhir_server.bootstrap import start_runtime
from fhir_server.context import DEV_PRINCIPAL, RequestContext
from fhir_server.db.engine import create_engine
from fhir_server.db.tables import resource_versions, resources
from fhir_server.storage.crypto import (
    DecryptionFailed,
    EncryptionError,
    FileKeyring,
    KeyNotFound,
    generate_key,
)
from fhir_server.storage.keys import open_keyring, reencrypt_all
from tests.fhir_server.api.samples import patient

CTX = RequestContext(principal=DEV_PRINCIPAL, base_url="http://test/fhir")


async def raw_bodies(runtime):
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(resources.c.body))).scalars().all()
        rows += (await conn.execute(select(resource_versions.c.body))).scalars().all()
    return [bytes(r) for r in rows if r is not None]


async def test_nothing_readable_is_stored(runtime):
    await runtime.services.resources.create(CTX, "Patient", patient())
    bodies = await raw_bodies(runtime)
    assert len(bodies) == 2
    for body in bodies:
        assert b"Okafor" not in body and b"MRN-1001" not in body and b"Patient" not in body
        assert body[0] == 1 and len(body) > 40


async def test_keyring_file_is_private(runtime, settings):
    mode = stat.S_IMODE(os.stat(settings.key_file).st_mode)
    assert mode == 0o600


async def test_a_body_moved_to_another_row_fails_to_open(runtime):
    a = await runtime.services.resources.create(CTX, "Patient", patient())
    b = await runtime.services.resources.create(CTX, "Patient", patient(gender="male"))
    async with runtime.engine.begin() as conn:
        body_a = (await conn.execute(select(resources.c.body).where(resources.c.res_id == a.version.res_id))).scalar_one()
        await conn.execute(update(resources).where(resources.c.res_id == b.version.res_id).values(body=body_a))
    with pytest.raises(DecryptionFailed, match="altered or moved"):
        await runtime.services.resources.read(CTX, "Patient", b.version.res_id)


async def test_wrong_key_is_a_clear_error_at_start(runtime, settings):
    await runtime.services.resources.create(CTX, "Patient", patient())
    await runtime.close()
    wrong = settings.model_copy(update={"encryption_key": generate_key(), "encryption_key_file": None})
    with pytest.raises(KeyNotFound, match="not in the keyring"):
        await start_runtime(wrong)


async def test_missing_keyring_with_data_is_refused(runtime, settings):
    await runtime.services.resources.create(CTX, "Patient", patient())
    await runtime.close()
    settings.key_file.unlink()
    with pytest.raises(EncryptionError, match="keyring file .* is missing"):
        await start_runtime(settings)
    assert not settings.key_file.exists()


async def test_rotation_reencrypts_everything_and_keeps_it_readable(runtime, settings):
    service = runtime.services.resources
    ids = [(await service.create(CTX, "Patient", patient())).version.res_id for _ in range(5)]
    await service.update(CTX, "Patient", ids[0], patient(id=ids[0], active=False))
    keyring = runtime.keyring
    assert isinstance(keyring, FileKeyring)
    old_id = keyring.active_key_id
    new_id = keyring.add_active_key()
    assert new_id != old_id
    report = await reencrypt_all(runtime.engine, keyring, batch_size=2)
    assert report.reencrypted == 5 + 6  # five current rows and six version rows
    assert all(keyring.sealed_with_active(body) for body in await raw_bodies(runtime))
    keyring.retire_keys_except_active()
    assert keyring.key_ids == [new_id]
    for pid in ids:
        assert (await service.read(CTX, "Patient", pid)).body is not None
    assert (await service.vread(CTX, "Patient", ids[0], "1")).body is not None


async def test_environment_key_with_old_key_reads_both(settings, tmp_path):
    first = generate_key()
    s1 = settings.model_copy(update={"encryption_key": first})
    rt = await start_runtime(s1)
    created = await rt.services.resources.create(CTX, "Patient", patient())
    await rt.close()
    second = generate_key()
    s2 = settings.model_copy(update={"encryption_key": second, "encryption_old_keys": first})
    rt = await start_runtime(s2)
    try:
        report = await reencrypt_all(rt.engine, rt.keyring)
        assert report.reencrypted == 2
        assert (await rt.services.resources.read(CTX, "Patient", created.version.res_id)).body
    finally:
        await rt.close()
    s3 = settings.model_copy(update={"encryption_key": second})
    rt = await start_runtime(s3)
    try:
        assert (await rt.services.resources.read(CTX, "Patient", created.version.res_id)).body
    finally:
        await rt.close()


def test_processes_starting_together_on_a_new_store_share_one_keyring(settings):
    """Several processes at their first start each find no keyring and make one: one key wins and
    every process opens it (none fails, none keeps a key of its own)."""

    def first_start(ready: threading.Barrier) -> str:
        async def run() -> str:
            engine = create_engine(settings.sqlalchemy_url, pool_size=1)
            try:
                ready.wait()
                return (await open_keyring(settings, engine)).active_key_id
            finally:
                await engine.dispose()

        return asyncio.run(run())

    ready = threading.Barrier(6)
    with ThreadPoolExecutor(6) as pool:
        keys = list(pool.map(lambda _: first_start(ready), range(6)))
    assert len(set(keys)) == 1
    assert FileKeyring(settings.key_file).active_key_id == keys[0]
    assert [p.name for p in settings.key_file.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_creating_a_keyring_never_replaces_one(tmp_path):
    path = tmp_path / "keyring.json"
    first = FileKeyring.create(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        FileKeyring.create(path)
    assert path.read_bytes() == before
    assert FileKeyring(path).active_key_id == first.active_key_id
