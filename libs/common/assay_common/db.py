"""One async database API over SQLite (`sqlite3`, run in place on the event loop) and Postgres (asyncpg).

Each service owns one `Database`: on Postgres its tables live in a schema named after the service
(set through `search_path`, so queries are the same on both backends); on SQLite in its own file.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
import weakref
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
import uuid_utils.compat as uuid_compat
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.engine import cursor as _cursor
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger("assay.db")

Backend = Literal["sqlite", "postgresql"]
R = TypeVar("R")


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): ids sort by creation time."""
    return uuid_compat.uuid7()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware, on both backends."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def async_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs and pick the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+inplace")
    return parsed.render_as_string(hide_password=False)


class _InPlaceExecutionContext(SQLiteExecutionContext):
    def post_exec(self) -> None:  # the base's does nothing
        # A statement's rows are fetched with it (as a driver for asyncio would): an unfinished
        # SELECT would keep its read snapshot open on a connection other readers share.
        strategy: _cursor.ResultFetchStrategy = self.cursor_fetch_strategy
        if self.cursor.description is not None and strategy is _cursor._DEFAULT_FETCH:
            self.cursor_fetch_strategy = _cursor.FullyBufferedCursorFetchStrategy(self.cursor)


class InPlaceSqliteDialect(SQLiteDialect_pysqlite):
    """SQLite through the standard `sqlite3` module, its calls run in place on the event loop's
    thread (`sqlite+inplace://` URLs, made by `async_url`).

    A statement on a local file in WAL mode with `synchronous=NORMAL` (a commit does not wait for
    the disk) takes microseconds; a driver for asyncio (aiosqlite) hands each call to a thread of
    its own and awaits it, and SQLAlchemy's asyncio layer switches greenlets around every await:
    each cost more CPU than the statement itself (bench/RESULTS.md). Declared async so that
    `AsyncEngine` takes it; `InPlaceConnection` runs statements without a greenlet. Waiting for
    another process's write lock blocks the loop (up to `busy_timeout`), as long as that process's
    transaction lasts; inside one process `Database` lets one write transaction in at a time
    (`_sqlite_writers`), so a transaction never waits in SQLite for another of its own process,
    which could only finish once the loop runs again.
    """

    driver = "inplace"
    is_async = True
    supports_statement_cache = True
    execution_ctx_cls = _InPlaceExecutionContext

    @classmethod
    def get_pool_class(cls, url: sa.URL) -> type[sa.pool.Pool]:
        # Connections are taken from the pool inside a greenlet: the pool may await, never block.
        # (An in-memory database lives as long as its one connection.)
        return sa.pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else sa.pool.StaticPool


sa.dialects.registry.register("sqlite.inplace", __name__, InPlaceSqliteDialect.__name__)


class InPlaceConnection(AsyncConnection):
    """An `AsyncConnection` whose statements run directly on the sync connection beneath, for a
    driver that never awaits (`InPlaceSqliteDialect`): no greenlet is started per statement.
    (`scalar` and `scalars` go through `execute`; the rest keeps SQLAlchemy's own path.)"""

    async def execute(
        self,
        statement: sa.Executable,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> sa.CursorResult[Any]:
        return self._proxied.execute(statement, parameters, execution_options=execution_options)

    async def exec_driver_sql(
        self, statement: str, parameters: Any = None, execution_options: Any = None
    ) -> sa.CursorResult[Any]:
        return self._proxied.exec_driver_sql(statement, parameters, execution_options)


class InPlaceEngine(AsyncEngine):
    """An `AsyncEngine` handing out `InPlaceConnection`s."""

    _connection_cls = InPlaceConnection


#: One lock per SQLite file and event loop: SQLite takes one writer at a time, and its statements
#: run on the loop's thread (`InPlaceSqliteDialect`), so a second writer of this process (of any
#: `Database` on the file) waits here, without blocking the loop, and not inside SQLite.
_sqlite_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_file(url: str) -> str:
    database = make_url(url).database
    return str(Path(database).resolve()) if database and database != ":memory:" else ":memory:"


class _KeptConnection:
    """A connection of `engine` kept open on one event loop (SQLite's writers take turns on one,
    its readers share another): taking one from the pool and giving it back for each use cost more
    than a short transaction's or a read's statements."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._held: tuple[asyncio.AbstractEventLoop, AsyncConnection] | None = None

    async def get(self) -> AsyncConnection:
        loop = asyncio.get_running_loop()
        if self._held is not None and self._held[0] is loop:
            return self._held[1]
        # One held on a loop that has ended (each test runs on a loop of its own) is let go.
        conn = await self.engine.connect()
        if self._held is not None and self._held[0] is loop:  # another caller opened one meanwhile
            await conn.close()
            return self._held[1]
        self._held = (loop, conn)
        return conn

    async def drop(self) -> None:
        """Close the connection; the next `get` opens another."""
        if self._held is not None:
            _, conn = self._held
            self._held = None
            await conn.close()

    async def close(self) -> None:
        """Close the connection if it was opened on the running loop (else its loop has ended)."""
        if self._held is not None and self._held[0] is asyncio.get_running_loop():
            await self.drop()


class Transaction:
    """An open transaction: its connection, and work to run only once it has committed."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` after a successful commit (never on rollback). Must not raise."""
        if callback not in self._after_commit:
            self._after_commit.append(callback)

    async def execute(self, statement: sa.Executable, params: Any = None) -> sa.CursorResult[Any]:
        return await self.conn.execute(statement, params)


class Database:
    """The store of one service."""

    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.backend: Backend = "postgresql" if self.url.startswith("postgresql") else "sqlite"
        self.schema = schema if self.backend == "postgresql" else None
        self.is_migrated = False
        self.engine: AsyncEngine = self._create_engine(pool_size, for_reads=False)
        # Reads run in autocommit on a pool of their own: no BEGIN/COMMIT round trips, and no
        # switching of isolation levels on pooled connections.
        self.read_engine: AsyncEngine = self._create_engine(pool_size, for_reads=True)
        #: The SQLite file, as one name for every `Database` on it; None on Postgres.
        self._file = _sqlite_file(self.url) if self.backend == "sqlite" else None
        # On SQLite, the connections kept open for writing (`transaction`) and reading (`read`).
        self._sqlite_writer = _KeptConnection(self.engine)
        self._sqlite_reader = _KeptConnection(self.read_engine)

    def _create_engine(self, pool_size: int, *, for_reads: bool) -> AsyncEngine:
        isolation = "AUTOCOMMIT" if for_reads else None
        if self.backend == "postgresql":
            connect_args: dict[str, Any] = {}
            if self.schema:
                connect_args["server_settings"] = {"search_path": self.schema}
            return create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=1800,
                connect_args=connect_args,
                **({"isolation_level": isolation} if isolation else {}),
            )
        path = make_url(self.url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Sized like Postgres's pool: with SQLAlchemy's default (5 + 10 overflow) a burst of
        # concurrent requests opened and closed overflow connections.
        engine = InPlaceEngine(
            sa.create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                connect_args={"timeout": 30, "check_same_thread": False},
                **({"isolation_level": isolation} if isolation else {}),
            )
        )

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let us issue BEGIN ourselves (below) instead of pysqlite's deferred BEGIN.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        if not for_reads:

            @sa.event.listens_for(engine.sync_engine, "begin")
            def _on_begin(conn: sa.Connection) -> None:
                # Writers take the lock up front: a deferred transaction that later upgrades to a
                # write lock can fail with SQLITE_BUSY without waiting; BEGIN IMMEDIATE waits.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A read-write transaction; commits when the block ends, rolls back if it raises."""
        if self._file is None:
            async with self.engine.connect() as conn:
                tx = Transaction(conn)
                async with conn.begin():
                    yield tx
        else:
            async with self._writer():
                conn = await self._sqlite_writer.get()
                tx = Transaction(conn)
                # Begun and ended on the sync connection directly, as its statements run
                # (`InPlaceConnection`): the async layer would start a greenlet for each.
                sync = conn.sync_connection
                assert sync is not None
                try:
                    with sync.begin():
                        yield tx
                finally:
                    if conn.invalidated or conn.in_transaction():
                        await self._sqlite_writer.drop()  # left unusable: the next one opens anew
        for callback in tx._after_commit:
            callback()

    def _writer(self) -> AbstractAsyncContextManager[Any]:
        """What a write transaction holds first: on SQLite, the file's lock in this process."""
        if self._file is None:
            return nullcontext()
        locks = _sqlite_writers.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(self._file, asyncio.Lock())

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, in autocommit: each statement sees the latest commit and no
        lock is held. Saves the BEGIN/COMMIT round trips of a transaction on the hot read paths;
        use `transaction()` where several reads must agree with each other.

        On SQLite every reader of the process shares one connection, kept open: a statement runs
        to its end on the loop's thread and its rows are fetched with it, so readers never
        interleave inside one, and in autocommit there is no transaction between them to share."""
        if self._file is None:
            async with self.read_engine.connect() as conn:
                yield conn
            return
        conn = await self._sqlite_reader.get()
        try:
            yield conn
        finally:
            if conn.invalidated:
                await self._sqlite_reader.drop()

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self._sqlite_writer.close()
        await self._sqlite_reader.close()
        await self.engine.dispose()
        await self.read_engine.dispose()

    async def migrate(self, script_location: Path) -> None:
        """Bring the schema to the newest revision. Safe when several replicas start at once."""
        async with self._writer(), self.engine.connect() as conn, conn.begin():
            if self.backend == "postgresql":
                # A transaction-scoped advisory lock serialises replicas migrating at once.
                lock_key = zlib.crc32(f"assay-migrate:{self.schema}".encode())
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
                if self.schema:
                    await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(self._upgrade, script_location)
        self.is_migrated = True

    def _upgrade(self, conn: sa.Connection, script_location: Path) -> None:
        config = _alembic_config(script_location, self.schema)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")

    async def is_at_head(self, script_location: Path) -> bool:
        config = _alembic_config(script_location, self.schema)
        head = ScriptDirectory.from_config(config).get_current_head()

        def current(conn: sa.Connection) -> str | None:
            opts = {"version_table_schema": self.schema} if self.schema else {}
            return MigrationContext.configure(conn, opts=opts).get_current_revision()

        async with self.read_engine.connect() as conn:
            return await conn.run_sync(current) == head


def _alembic_config(script_location: Path, schema: str | None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(script_location))
    config.attributes["version_table_schema"] = schema
    return config


def run_migrations_from_env() -> None:
    """The body of every service's Alembic `env.py`: migrate on the connection we were handed."""
    from alembic import context

    config = context.config
    conn = config.attributes.get("connection")
    if conn is None:
        raise RuntimeError("migrations run through Database.migrate() or `assay migrate`")
    context.configure(
        connection=conn,
        version_table_schema=config.attributes.get("version_table_schema"),
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def to_row(cls: type[R], row: sa.Row[Any], *, prefix: str = "") -> R:
    """Build a row dataclass from a result row whose columns carry its field names (after
    `prefix`, for the columns of a joined table)."""
    mapping = row._mapping
    return cls(**{name: mapping[column] for name, column in _columns_of(cls, prefix)})


#: `_columns_of`'s answers, by row class and prefix.
_columns: dict[tuple[type[Any], str], tuple[tuple[str, str], ...]] = {}


def _columns_of(cls: type[Any], prefix: str) -> tuple[tuple[str, str], ...]:
    """Each field of the row dataclass `cls` with the column it is read from (asked for every
    row read, so worked out once)."""
    known = _columns.get((cls, prefix))
    if known is None:
        known = _columns[cls, prefix] = tuple((f.name, prefix + f.name) for f in fields(cls))
    return known


@functools.cache
def insert_ignoring_conflict(backend: str, table: sa.Table, *, returning: bool = False) -> sa.Insert:
    """An INSERT that does nothing when the row's key already exists (`backend`: dialect name),
    returning the inserted row when asked. Execute it with the row as parameters: built once, it
    skips SQLAlchemy's statement construction on every call."""
    dialect_insert = postgresql.insert if backend == "postgresql" else sqlite.insert
    statement = dialect_insert(table).on_conflict_do_nothing()
    return statement.returning(*table.c) if returning else statement


async def wait_until_reachable(db: Database, timeout: float) -> None:
    """Retry until the database answers (a container may start after us)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await db.ping()
            return
        except (OSError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("database not reachable yet (%s); retrying", type(exc).__name__)
            await asyncio.sleep(0.5)


def contains_any_case(columns: Sequence[sa.ColumnElement[str]], text: str) -> sa.ColumnElement[bool]:
    """Whether any of `columns` contains `text`, ignoring case; `%` and `_` in `text` are literal."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return sa.or_(*(sa.func.lower(column).like(pattern, escape="\\") for column in columns))
