"""Admin endpoints: take one instance out of rotation without restarting it (podinfo's readiness switch).

``POST /admin/drain`` makes ``/readyz`` fail, so load balancers and Kubernetes stop sending it traffic
while it keeps serving what it has; ``POST /admin/undrain`` puts it back. Both need the admin bearer
token (``PIXELPET_ADMIN_TOKEN``); without one configured the routes do not exist. ``pixelpet drain``
and ``pixelpet undrain`` call them.
"""

import hmac
import logging

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pixelpet.lifecycle import Lifecycle

logger = logging.getLogger("pixelpet.admin")


def admin_routes(token: SecretStr, lifecycle: Lifecycle) -> list[Route]:
    expected = f"Bearer {token.get_secret_value()}".encode()

    def authorised(request: Request) -> bool:
        # Constant time: the comparison must not tell an attacker how much of a guess was right.
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    def switch(drained: bool) -> Route:
        async def endpoint(request: Request) -> JSONResponse:
            if not authorised(request):
                logger.warning(
                    "refused an admin request without the admin token", extra={"path": request.url.path}
                )
                return JSONResponse({"error": "the admin token is required"}, status_code=401)
            if lifecycle.maintenance != drained:
                lifecycle.maintenance = drained
                logger.warning(
                    "drained by an operator: readiness fails" if drained else "undrained by an operator"
                )
            return JSONResponse({"drained": lifecycle.maintenance, "shutting_down": lifecycle.shutting_down})

        return Route("/admin/drain" if drained else "/admin/undrain", endpoint, methods=["POST"])

    return [switch(True), switch(False)]
