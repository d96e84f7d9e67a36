"""Who is calling: the one seam where request authentication plugs in.

Every route of the gateway that is not public (the proxy, the event stream, the merged OpenAPI)
depends on `authenticate`; the principal it returns is what the internal token vouches for.
Callers are anonymous until sessions, API keys and JWTs are checked here (ARCHITECTURE §5).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assay_common.internal_auth import Principal


async def authenticate(request: Request) -> Principal:
    """The principal behind `request`."""
    return Principal.anonymous()


Caller = Annotated[Principal, Depends(authenticate)]
