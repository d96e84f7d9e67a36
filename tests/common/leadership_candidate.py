"""One candidate for leadership, run as a process of its own by the tests, which kill it:
`python leadership_candidate.py <holder> <ttl seconds>`, on the database that the environment
names (`LEADERSHIP_DATABASE_URL`, and `LEADERSHIP_DATABASE_SCHEMA` on Postgres).

It logs "<holder> campaigning" once its database answers and it starts to campaign. While it
leads it keeps appending rows (token, holder, n) to `fenced_writes`, each in a transaction that
calls `fence` first, so the table shows which leader wrote when.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

import sqlalchemy as sa

from assay_common.cancellation import raise_if_cancelled
from assay_common.db import Database
from assay_common.leadership import Leadership, NotLeader, leader_leases_table

LEASE = "fenced-writer"
CAMPAIGNING = "campaigning"
URL_ENV = "LEADERSHIP_DATABASE_URL"
SCHEMA_ENV = "LEADERSHIP_DATABASE_SCHEMA"
#: Between two writes: gives the other candidates' renewals their turn at SQLite's one write lock.
WRITE_PAUSE_SECONDS = 0.01


def fenced_writes_table(metadata: sa.MetaData) -> sa.Table:
    """What the leaders wrote, in the order they wrote it (`id`)."""
    return sa.Table(
        "fenced_writes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
    )


async def write_while_leading(leadership: Leadership, writes: sa.Table) -> None:
    n = 0
    while True:
        raise_if_cancelled()
        token = await leadership.wait_for_leadership()
        try:
            while True:
                raise_if_cancelled()
                async with leadership.db.transaction() as tx:
                    await leadership.fence(tx, token)
                    await tx.execute(writes.insert(), {"token": token, "holder": leadership.holder, "n": n})
                n += 1
                await asyncio.sleep(WRITE_PAUSE_SECONDS)
        except NotLeader:
            continue


async def run(holder: str, ttl_seconds: float) -> None:
    db = Database(os.environ[URL_ENV], schema=os.environ.get(SCHEMA_ENV))
    metadata = sa.MetaData()
    leadership = Leadership(db, leader_leases_table(metadata), LEASE, holder, ttl_seconds=ttl_seconds)
    try:
        await db.ping()
        logging.getLogger("leadership_candidate").info("%s %s", holder, CAMPAIGNING)
        async with asyncio.TaskGroup() as group:
            group.create_task(leadership.campaign())
            group.create_task(write_while_leading(leadership, fenced_writes_table(metadata)))
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("holder")
    parser.add_argument("ttl_seconds", type=float)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run(args.holder, args.ttl_seconds))


if __name__ == "__main__":
    main()
