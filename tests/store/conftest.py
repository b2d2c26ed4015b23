"""PostgreSQL for the store tests: a fresh schema per test in the server named by
``$ARCHSEARCH_TEST_POSTGRESQL`` (``scripts/postgres-for-tests.sh start`` prints one)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

POSTGRES_ENV = "ARCHSEARCH_TEST_POSTGRESQL"


def _server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    hint = (
        f"{POSTGRES_ENV} is not set; run "
        f'`export {POSTGRES_ENV}="$(scripts/postgres-for-tests.sh start)"` first'
    )
    if os.environ.get("CI") == "true":  # CI must never pass by skipping PostgreSQL
        pytest.fail(f"CI=true: the PostgreSQL tests must run, but {hint}", pytrace=False)
    pytest.skip(f"PostgreSQL tests: {hint}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The test server's URL, pointed at an empty schema of its own (dropped afterwards)."""
    server = sa.make_url(_server_url())
    schema = f"test_{uuid.uuid4().hex[:16]}"
    engine = sa.create_engine(server)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = server.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
