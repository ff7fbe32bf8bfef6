"""Two syncs writing at once (the dashboard runs one per integration in its own thread): every
batch lands, and what both bring first — a model id, a price key, an identity, a metadata set —
is registered once. Before the writer took one transaction at a time, DuckDB refused the second
commit of such a pair ("PRIMARY KEY or UNIQUE constraint violation") and half the batches of two
first syncs failed."""

from __future__ import annotations

import threading

from bedrock_explorer.raw import RawBatch
from bedrock_explorer.store import Store
from tests.conftest import line

BATCHES = 12
LINES = 40


def _batch(integration: int, n: int) -> RawBatch:
    """Lines that bring, in each batch, new identities, maps and (model, region) pairs that the
    other integration's batch of the same number brings too."""
    lines = [
        line(
            request_id=f"{integration}-{n}-{i}",
            model_id=("amazon.nova-lite-v1:0", "amazon.nova-pro-v1:0")[i % 2],
            region=f"region-{n}",
            identity_arn=f"arn:aws:iam::111122223333:user/u{n}-{i % 5}",
            request_metadata={"team": f"t{n}-{i % 3}"},
        )
        for i in range(LINES)
    ]
    return RawBatch(f"{integration}-{n}", lines)


def _one(store: Store, sql: str) -> int:
    return int(store.con.execute(sql).fetchall()[0][0])


def test_two_syncs_at_once_store_every_batch_and_each_new_dimension_once(store: Store) -> None:
    ids = [store.add_integration(f"sync-{k}", "local").id for k in range(2)]
    failures: list[str] = []
    start = threading.Barrier(2)

    def sync(k: int) -> None:
        view = store.view()  # a thread's own cursor, as each background sync has
        try:
            start.wait()
            for n in range(BATCHES):
                try:
                    view.write_batch(ids[k], _batch(k, n))
                except Exception as err:  # collected, asserted below
                    failures.append(f"{k}-{n}: {err}")
        finally:
            view.close()

    threads = [threading.Thread(target=sync, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[:3]
    assert _one(store, "SELECT count(*) FROM invocations") == 2 * BATCHES * LINES
    assert _one(store, "SELECT count(*) FROM identities") == BATCHES * 5
    assert _one(store, "SELECT count(*) FROM metadata_sets") == BATCHES * 3
    assert _one(store, "SELECT count(DISTINCT request_metadata) FROM metadata_sets") == BATCHES * 3
    assert _one(store, "SELECT count(*) FROM price_keys") == BATCHES * 2
    assert _one(store, "SELECT count(*) FROM model_ids") == 2
    assert _one(store, "SELECT count(*) FROM invocations WHERE metadata_set IS NULL") == 0
