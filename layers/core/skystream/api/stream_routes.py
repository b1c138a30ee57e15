"""/streams/credentials: your Kafka login to read filters' topics (issue or replace, look, withdraw)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from skystream.api.auth import require_user
from skystream.api.models import StreamCredentials, StreamCredentialsState, error_responses
from skystream.domain.stream_access import group_prefix, kafka_username
from skystream.wiring import api as services

router = Router()


@router.post("/streams/credentials", status_code=201,
             summary="Issue your Kafka stream credentials (a new password each time: the old one stops working)",
             tags=["streams"], responses=error_responses(401, 503, success=201))
def issue_credentials() -> StreamCredentials:
    user = require_user(router)
    credentials = services.stream_access().issue(user)
    endpoint = services.stream_endpoint()
    return StreamCredentials(
        username=credentials.username, password=credentials.password, mechanism=credentials.mechanism,
        security_protocol=endpoint.security_protocol, bootstrap_servers=endpoint.bootstrap_servers,
        consumer_group_prefix=credentials.consumer_group_prefix,
        message="keep the password: it is shown once. You may read your own filters' topics and public ones; "
                "consumer group ids must start with the prefix given. POST again to replace the password, "
                "DELETE to withdraw it")


@router.get("/streams/credentials", summary="Whether you hold Kafka stream credentials (never the password)",
            tags=["streams"], responses=error_responses(401))
def credentials_state() -> StreamCredentialsState:
    user = require_user(router)
    endpoint = services.stream_endpoint()
    username = kafka_username(user.user_id)
    return StreamCredentialsState(username=username, issued=services.stream_access().has_credentials(user.user_id),
                                  bootstrap_servers=endpoint.bootstrap_servers,
                                  security_protocol=endpoint.security_protocol,
                                  consumer_group_prefix=group_prefix(username))


@router.delete("/streams/credentials", summary="Withdraw your Kafka stream credentials", tags=["streams"],
               responses=error_responses(401, 404, 503))
def withdraw_credentials() -> dict[str, str]:
    user = require_user(router)
    return {"revoked": services.stream_access().withdraw(user.user_id)}
