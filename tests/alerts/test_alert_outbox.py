"""The outbox on a real SQLite file: dedup keys, atomic claims across processes, pacing, leases."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from tests.alerts.conftest import START
from watchdog.alerts.counters import read_counts
from watchdog.alerts.outbox import Claim, Outbox, QueuedMessage, count_states
from watchdog.storage import Store, open_store

LEASE = timedelta(minutes=2)
PACE = timedelta(seconds=1)


def message(key: str, target: str = "#alerts") -> QueuedMessage:
    return QueuedMessage(
        dedup_key=key, target=target, kind="alert", subject=key, payload={"text": key}
    )


def test_enqueue_ignores_repeated_dedup_key(store: Store) -> None:
    outbox = Outbox(store, "a")

    first = outbox.enqueue(message("k1"), START)
    second = outbox.enqueue(message("k1"), START)

    assert first is True
    assert second is False
    with store.session() as session:
        assert count_states(session)["pending"] == 1


def test_two_stores_never_claim_same_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    stores = [open_store(url), open_store(url)]
    outboxes = [Outbox(stores[0], "process-a"), Outbox(stores[1], "process-b")]
    for index in range(40):
        outboxes[0].enqueue(message(f"k{index}", target=f"#c{index}"), START)
    claimed: dict[str, list[Claim]] = {"process-a": [], "process-b": []}
    barrier = threading.Barrier(2)

    def claim_all(outbox: Outbox) -> None:
        barrier.wait()
        for _ in range(10):
            claimed[outbox.owner].extend(outbox.claim_due(START, LEASE, PACE, limit=3))

    threads = [threading.Thread(target=claim_all, args=(outbox,)) for outbox in outboxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    ids_a = [claim.id for claim in claimed["process-a"]]
    ids_b = [claim.id for claim in claimed["process-b"]]
    assert len(ids_a) + len(ids_b) == 40
    assert set(ids_a).isdisjoint(ids_b)
    assert len(set(ids_a + ids_b)) == 40
    for store in stores:
        store.close()


def test_claim_takes_one_message_per_target_in_order(store: Store) -> None:
    outbox = Outbox(store, "a")
    for index in range(3):
        outbox.enqueue(message(f"k{index}"), START)

    first = outbox.claim_due(START, LEASE, PACE)
    blocked = outbox.claim_due(START + timedelta(seconds=5), LEASE, PACE)
    outbox.mark_sent(first[0], START, "1.0", "C1")
    too_soon = outbox.claim_due(START + timedelta(milliseconds=500), LEASE, PACE)
    second = outbox.claim_due(START + timedelta(seconds=1), LEASE, PACE)

    assert [claim.subject for claim in first] == ["k0"]
    assert blocked == []
    assert too_soon == []
    assert [claim.subject for claim in second] == ["k1"]
    assert second[0].channel_id == "C1"


def test_expired_claim_is_taken_again(store: Store) -> None:
    crashed = Outbox(store, "crashed")
    survivor = Outbox(store, "survivor")
    crashed.enqueue(message("k0"), START)
    crashed.claim_due(START, LEASE, PACE)

    during_lease = survivor.claim_due(START + timedelta(minutes=1), LEASE, PACE)
    after_lease = survivor.claim_due(START + LEASE, LEASE, PACE)

    assert during_lease == []
    assert [claim.subject for claim in after_lease] == ["k0"]
    assert after_lease[0].attempts == 2


def test_retry_after_pauses_whole_target(store: Store) -> None:
    outbox = Outbox(store, "a")
    outbox.enqueue(message("k0"), START)
    outbox.enqueue(message("other", target="#other"), START)
    claims = outbox.claim_due(START, LEASE, PACE)
    limited = next(claim for claim in claims if claim.target == "#alerts")
    until = START + timedelta(seconds=3)

    outbox.mark_retry(limited, until, "HTTP 429 rate limited", pause_until=until)
    early = outbox.claim_due(START + timedelta(seconds=2.9), LEASE, PACE)
    on_time = outbox.claim_due(until, LEASE, PACE)

    assert early == []
    assert [claim.subject for claim in on_time] == ["k0"]


def test_clock_stepped_back_ends_waits_beyond_horizon(store: Store) -> None:
    outbox = Outbox(store, "a")
    outbox.enqueue(message("k0"), START)
    outbox.enqueue(message("k1"), START)
    first = outbox.claim_due(START, LEASE, PACE)[0]
    outbox.mark_sent(first, START, "1.0", None)
    stepped_back = START - timedelta(hours=1)

    without_horizon = outbox.claim_due(stepped_back, LEASE, PACE)
    with_horizon = outbox.claim_due(stepped_back, LEASE, PACE, horizon=timedelta(minutes=15))

    assert without_horizon == []
    assert [claim.subject for claim in with_horizon] == ["k1"]


def test_sent_counter_counts_once(store: Store) -> None:
    outbox = Outbox(store, "a")
    outbox.enqueue(message("k0"), START)
    claim = outbox.claim_due(START, LEASE, PACE)[0]

    outbox.mark_sent(claim, START, "1.0", None)
    outbox.mark_sent(claim, START, "1.0", None)

    with store.session() as session:
        assert read_counts(session) == {"sent": 1}
        assert count_states(session)["sent"] == 1


def test_prune_deletes_only_old_sent(store: Store) -> None:
    outbox = Outbox(store, "a")
    outbox.enqueue(message("old"), START)
    outbox.enqueue(message("waiting", target="#b"), START)
    claim = next(c for c in outbox.claim_due(START, LEASE, PACE) if c.subject == "old")
    outbox.mark_sent(claim, START, "1.0", None)

    deleted = outbox.prune_sent(START + timedelta(days=31))

    assert deleted == 1
    with store.session() as session:
        assert count_states(session) == {"pending": 0, "sending": 1, "sent": 0, "dead": 0}
