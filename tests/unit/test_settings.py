"""Settings have no local defaults for what the template sets: a missing variable fails, naming itself.

Before issue 14 every setting had a default (``127.0.0.1:9092``, ``skystream-objects``, ...), so a
deployed function that missed a variable quietly talked to loopback or to a guessed table.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_template import TEMPLATE, translate

from skystream.config import REQUIRED, ConfigurationError, Settings, settings

# Set by the Lambda runtime itself, not by the template (AWS_REGION is a reserved variable there).
SET_BY_LAMBDA = {"AWS_REGION"}


@pytest.fixture
def only_required(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The unit tests' environment (the template's variables) with no optional variable set."""
    for name in ("AWS_DEFAULT_REGION", "KAFKA_SCRAM_SECRET_ARN", "AWS_ENDPOINT_URL", "FILTER_TIME_LIMIT_S",
                 "MATCH_RESERVE_S", "SUSPEND_AFTER_FAILURES", "RUN_NOW_DEADLINE_S", "MAX_ACTIVE_FILTERS_PER_USER",
                 "MAX_DAILY_BYTES_PER_USER", "RUN_NOW_PER_MINUTE"):
        monkeypatch.delenv(name, raising=False)
    settings.cache_clear()
    yield monkeypatch
    settings.cache_clear()


def test_the_required_variables_alone_make_the_settings(only_required: pytest.MonkeyPatch) -> None:
    cfg = settings()
    assert isinstance(cfg, Settings) and cfg.kafka_auth == "none" and cfg.aws_endpoint_url is None
    assert cfg.kafka_scram_secret_arn is None


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_variable_fails_naming_it(only_required: pytest.MonkeyPatch, name: str) -> None:
    only_required.delenv(name)
    with pytest.raises(ConfigurationError) as refused:
        settings()
    message = str(refused.value)
    assert f"environment variable {name} is not set" in message
    assert "infra/template.yaml" in message  # where it comes from


def test_an_empty_variable_is_missing_and_every_missing_one_is_named(only_required: pytest.MonkeyPatch) -> None:
    only_required.setenv("OBJECTS_TABLE", "")
    only_required.delenv("DIGEST_SENDER")
    with pytest.raises(ConfigurationError, match="environment variables OBJECTS_TABLE, DIGEST_SENDER are not set"):
        settings()


def test_a_malformed_replication_factor_is_refused_naming_it(only_required: pytest.MonkeyPatch) -> None:
    only_required.setenv("KAFKA_REPLICATION_FACTOR", "three")
    with pytest.raises(ConfigurationError, match="KAFKA_REPLICATION_FACTOR='three' is not an integer"):
        settings()


def test_the_tunables_keep_their_documented_defaults(only_required: pytest.MonkeyPatch) -> None:
    cfg = settings()
    assert (cfg.filter_time_limit_s, cfg.match_reserve_s, cfg.suspend_after_failures) == (2.0, 35.0, 5)


def _lambda_functions(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}


def test_the_template_sets_every_required_variable_for_every_function() -> None:
    """What ``settings()`` requires is set for each of the six functions (Globals merged in by SAM)."""
    functions = _lambda_functions(translate(TEMPLATE.read_text()))
    assert len(functions) == 6, sorted(functions)  # issue 17 added the history writer
    for name, function in functions.items():
        variables = set(function["Properties"].get("Environment", {}).get("Variables", {}))
        missing = set(REQUIRED) - SET_BY_LAMBDA - variables
        assert not missing, f"{name} does not set {sorted(missing)}"


def test_the_template_check_catches_a_variable_taken_out_of_the_globals() -> None:
    text = TEMPLATE.read_text()
    planted = text.replace("        DIGEST_SENDER: !Ref DigestSender\n", "", 1)
    assert planted != text
    functions = _lambda_functions(translate(planted))
    assert all("DIGEST_SENDER" not in f["Properties"]["Environment"]["Variables"] for f in functions.values())
