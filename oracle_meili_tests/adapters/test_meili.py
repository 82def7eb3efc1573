"""The Meilisearch client against a real server."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.payloads import Payload, PayloadBuffer, TaskWindow
from oracle_meili.adapters.server import RunningMeilisearch, free_port, meilisearch_server
from oracle_meili.config import MeilisearchConfig
from oracle_meili.errors import MeilisearchError, MeilisearchTaskError, MeilisearchUnavailableError


def lines(*docs: dict[str, object]) -> bytes:
    return b"".join(orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE) for d in docs)


def test_health_of_running_server_TEST_040_TEST_041(meili_client: MeiliClient) -> None:
    meili_client.check_health()


def test_unreachable_server_is_a_clear_error_TEST_042() -> None:
    """One short line: where, and why (not the HTTP client's exception chain)."""
    url = f"http://127.0.0.1:{free_port()}"
    with (
        MeiliClient(MeilisearchConfig(url=url, timeout_seconds=2, retries=0)) as client,
        pytest.raises(MeilisearchUnavailableError) as raised,
    ):
        client.check_health()
    assert str(raised.value) == f"Meilisearch at {url} is not answering (connection refused)"


def test_wrong_api_key(meili_config: MeilisearchConfig, index_name: str) -> None:
    config = meili_config.model_copy(update={"api_key": SecretStr("wrong-key-for-test")})
    with MeiliClient(config) as client, pytest.raises(Exception, match="invalid_api_key"):
        client.index_exists(index_name)


def test_index_lifecycle_TEST_050_TEST_051_TEST_052_TEST_053(
    meili_client: MeiliClient, index_name: str
) -> None:
    assert not meili_client.index_exists(index_name)
    settings = {"searchableAttributes": ["name"], "filterableAttributes": ["price"]}
    meili_client.create_index(index_name, primary_key="item_id", settings=settings)
    assert meili_client.index_exists(index_name)
    assert index_name in meili_client.index_uids(prefix=index_name)
    applied = meili_client.settings(index_name)
    assert applied["searchableAttributes"] == ["name"]
    assert applied["filterableAttributes"] == ["price"]
    meili_client.delete_index(index_name)
    assert not meili_client.index_exists(index_name)


def test_documents_add_upsert_delete_TEST_060_to_064(
    meili_client: MeiliClient, index_name: str
) -> None:
    """TEST-060 one document, TEST-061 documents in batches, TEST-062 upsert, TEST-063
    delete, TEST-064 waiting for each task to finish."""
    meili_client.create_index(index_name, primary_key="item_id", settings={})
    one = meili_client.add_documents(
        index_name, lines({"item_id": 1, "name": "a"}), primary_key="item_id"
    )
    meili_client.wait(one, index_name)
    batch = lines(*({"item_id": i, "name": f"n{i}"} for i in range(2, 102)))
    meili_client.wait(
        meili_client.add_documents(index_name, batch, primary_key="item_id"), index_name
    )
    assert meili_client.document_count(index_name) == 101
    upsert = lines({"item_id": 1, "name": "changed"})
    meili_client.wait(
        meili_client.add_documents(index_name, upsert, primary_key="item_id"), index_name
    )
    assert meili_client.document(index_name, 1)["name"] == "changed"
    meili_client.wait(meili_client.delete_documents(index_name, [1, 2, 3]), index_name)
    assert meili_client.document_count(index_name) == 98


def test_failed_task_raises_with_uid_code_and_message(
    meili_client: MeiliClient, index_name: str
) -> None:
    meili_client.create_index(index_name, primary_key="item_id", settings={})
    task = meili_client.add_documents(index_name, lines({"item_id": 1.5}), primary_key="item_id")
    with pytest.raises(MeilisearchTaskError) as raised:
        meili_client.wait(task, index_name)
    error = raised.value
    assert (error.index, error.task_uid, error.code) == (index_name, task, "invalid_document_id")
    assert "1.5" in error.message and f"task {task} failed" in str(error)


def test_task_window_bounds_tasks_in_flight(meili_client: MeiliClient, index_name: str) -> None:
    meili_client.create_index(index_name, primary_key="item_id", settings={})
    window = TaskWindow(meili_client, index_name, limit=2)
    enqueued, done = [], []
    for i in range(5):
        enqueued.append(
            meili_client.add_documents(index_name, lines({"item_id": i}), primary_key="item_id")
        )
        done += window.add(enqueued[-1])
        assert window.in_flight <= 2
        # The oldest tasks finished, in order, to make room.
        assert [task.uid for task in done] == enqueued[: len(done)]
    done += window.wait_all()
    assert [task.uid for task in done] == enqueued and window.in_flight == 0
    assert meili_client.document_count(index_name) == 5


def payloads(
    lines: list[tuple[int, bytes]], *, max_bytes: int, first_bytes: int | None = None
) -> list[tuple[bytes, int, int, int]]:
    """Every payload a buffer makes of ``lines``, copied as a sender would send it before
    adding the next line (payloads share one buffer)."""
    buffer: PayloadBuffer[int] = PayloadBuffer(max_bytes=max_bytes, first_bytes=first_bytes)
    sent = []

    def send(payload: Payload[int] | None) -> None:
        if payload is not None:
            sent.append((bytes(payload.data), payload.documents, payload.first, payload.last))

    for tag, line in lines:
        send(buffer.full_before(len(line)))
        send(buffer.append(tag, line))
    send(buffer.rest())
    return sent


def test_payload_buffer_splits_by_bytes() -> None:
    docs = [f"{i:09d}\n".encode() for i in range(10)]  # 10 bytes each
    tagged = list(enumerate(docs))
    made = payloads(tagged, max_bytes=35)
    assert [len(p[0]) for p in made] == [30, 30, 30, 10]
    assert b"".join(p[0] for p in made) == b"".join(docs)
    # Each payload names the tags (a full sync's stored keys) of its first and last lines.
    assert [(p[2], p[3]) for p in made] == [(0, 2), (3, 5), (6, 8), (9, 9)]
    assert payloads([], max_bytes=35) == []
    oversized = [b"x" * 50 + b"\n", b"y\n"]
    assert payloads(list(enumerate(oversized)), max_bytes=35) == [
        (oversized[0], 1, 0, 0),
        (oversized[1], 1, 1, 1),
    ]
    ramp = [(len(p[0]), p[1], p[2]) for p in payloads(tagged, max_bytes=80, first_bytes=10)]
    assert ramp == [(10, 1, 0), (20, 2, 1), (40, 4, 3), (30, 3, 7)]


class FirstRetry(logging.Handler):
    """Sets ``seen`` when the client logs its first retry."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying in" in record.getMessage():
            self.seen.set()


def test_unavailable_server_is_retried_with_backoff_TEST_090_TEST_091(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real Meilisearch that starts only once the client has failed and is backing off."""
    port = free_port()
    stop = threading.Event()
    first_retry = FirstRetry()
    logging.getLogger().addHandler(first_retry)

    def start_late() -> None:
        if first_retry.seen.wait(60):
            with meilisearch_server(data_dir=tmp_path / "late", port=port, master_key="k" * 24):
                stop.wait(60)

    server = threading.Thread(target=start_late)
    server.start()
    try:
        config = MeilisearchConfig(
            url=f"http://127.0.0.1:{port}", api_key=SecretStr("k" * 24), retries=8
        )
        with MeiliClient(config) as client:
            client.check_health()
    finally:
        logging.getLogger().removeHandler(first_retry)
        first_retry.seen.set()
        stop.set()
        server.join()
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries
    assert "is not answering (connection refused)" in retries[0].getMessage()


def test_final_errors_are_not_retried(
    meili_config: MeilisearchConfig, index_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = meili_config.model_copy(update={"api_key": SecretStr("wrong-key-for-test")})
    with MeiliClient(config) as client, pytest.raises(MeilisearchError, match="invalid_api_key"):
        client.index_exists(index_name)
    assert not [r for r in caplog.records if "retrying in" in r.getMessage()]


@pytest.fixture(scope="module")
def paged_indexes(meili_server: RunningMeilisearch) -> Iterator[tuple[MeiliClient, dict[int, str]]]:
    """Indexes of 0 to 23 documents (ids mixed with ties in their text), read in pages."""
    client = MeiliClient(
        MeilisearchConfig(url=meili_server.url, api_key=SecretStr(meili_server.master_key))
    )
    uids = {}
    for size in (0, 1, 5, 23):
        uid = f"pages_{size}_{uuid.uuid4().hex[:6]}"
        client.create_index(uid, primary_key="id", settings={})
        if size:
            lines = b"".join(
                orjson.dumps({"id": i, "text": f"t{i % 3}"}) + b"\n" for i in range(size)
            )
            client.wait(client.add_documents(uid, lines, primary_key="id"), uid)
        uids[size] = uid
    yield client, uids
    client.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.sampled_from([0, 1, 5, 23]), chunk=st.integers(1, 7), readers=st.integers(1, 3))
def test_documents_reads_each_document_once_whatever_the_pages_and_readers(
    paged_indexes: tuple[MeiliClient, dict[int, str]], size: int, chunk: int, readers: int
) -> None:
    client, uids = paged_indexes
    pages = list(client.documents(uids[size], chunk=chunk, readers=readers))
    ids = [document["id"] for page in pages for document in page]
    assert sorted(ids) == list(range(size))
    assert all(0 < len(page) <= chunk for page in pages)
