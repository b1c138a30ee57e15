"""The history in infra/template.yaml (issue 17): the writer function, its trigger and layer, the Glue tables
(columns generated from ``history.schema``), partition projection, the Athena workgroup, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from test_template import TEMPLATE, translate

from skystream.history.glue import GLUE_TYPES, glue_columns
from skystream.history.schema import HISTORY_TABLES
from skystream.local.template import load_template

GLUE_TABLES = {"ObjectsHistoryGlueTable": "objects_history", "DetectionsGlueTable": "detections",
               "ForcedPhotometryGlueTable": "forced_photometry"}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate(TEMPLATE.read_text())


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if isinstance(statement, dict) and "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            if isinstance(statement, dict) and "Action" in statement:
                out.append(statement)
    return out


def _actions(role: dict[str, Any]) -> dict[str, list[Any]]:
    """action -> the resources granted it."""
    granted: dict[str, list[Any]] = {}
    for s in _statements(role):
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        for a in actions:
            granted.setdefault(a, []).extend(resources)
    return granted


@pytest.mark.parametrize("logical_id", GLUE_TABLES)
def test_the_glue_columns_are_the_schemas_in_order_and_type(translated: dict[str, Any], logical_id: str) -> None:
    table = HISTORY_TABLES[GLUE_TABLES[logical_id]]
    glue = translated["Resources"][logical_id]["Properties"]["TableInput"]
    declared = [(c["Name"], c["Type"]) for c in glue["StorageDescriptor"]["Columns"]]
    assert declared == [(c["Name"], c["Type"]) for c in glue_columns(table)]
    assert declared == [(c.name.lower(), GLUE_TYPES[c.sql_type]) for c in table.columns]  # independent of glue.py
    assert glue["Name"] == table.name
    assert glue["PartitionKeys"] == [{"Name": "night", "Type": "int", "Comment": glue["PartitionKeys"][0]["Comment"]}]
    assert glue["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")


@pytest.mark.parametrize("logical_id", GLUE_TABLES)
def test_partitions_are_projected_from_the_writers_key_layout(translated: dict[str, Any], logical_id: str) -> None:
    table = HISTORY_TABLES[GLUE_TABLES[logical_id]]
    params = translated["Resources"][logical_id]["Properties"]["TableInput"]["Parameters"]
    assert params["projection.enabled"] == "true" and params["projection.night.type"] == "integer"
    low, high = (int(x) for x in params["projection.night.range"].split(","))
    assert low <= 60100 < 61000 <= high
    # the same key layout the writer uses: s3://bucket/{table.night_prefix(night)}
    assert params["storage.location.template"] == {"Fn::Sub": f"s3://${{AlertsBucket}}/{table.prefix()}night=${{!night}}/"}
    assert table.night_prefix(60123) == f"{table.prefix()}night=60123/"


def test_the_writer_runs_on_alerts_enriched_with_a_long_window_and_both_layers(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    trigger = resources["HistoryWriterTrigger"]["Properties"]
    assert trigger["FunctionName"] == {"Ref": "HistoryWriterFunction"}
    assert (trigger["BatchSize"], trigger["MaximumBatchingWindowInSeconds"], trigger["StartingPosition"]) == (
        10000, 300, "TRIM_HORIZON")
    function = resources["HistoryWriterFunction"]["Properties"]
    assert [ref["Ref"].rstrip("0123456789abcdef") for ref in function["Layers"]] == ["CoreLayer", "HistoryLayer"]
    assert function["Timeout"] >= 300 - 1 and function["Handler"] == "app.handler"
    local = load_template(TEMPLATE, parameters={"KafkaAuth": "none"}).functions["HistoryWriterFunction"]
    assert local.code_dir == "functions/history_writer"
    assert [(s.topics, s.consumer_group_id) for s in local.kafka_sources] == [(["alerts-enriched"], "skystream-history")]


def test_the_writer_may_write_only_history_and_read_the_archive(translated: dict[str, Any]) -> None:
    granted = _actions(translated["Resources"]["HistoryWriterFunctionRole"])
    assert granted["s3:PutObject"] == [{"Fn::Sub": "${AlertsBucket.Arn}/history/*"}]
    assert granted["s3:DeleteObject"] == [{"Fn::Sub": "${AlertsBucket.Arn}/history/*"}]
    assert {"Fn::Sub": "${AlertsBucket.Arn}/alerts/*"} in granted["s3:GetObject"]
    assert not any(k.startswith("dynamodb:") for k in granted)


def test_the_api_may_run_athena_in_its_workgroup_only_and_read_the_catalog(translated: dict[str, Any]) -> None:
    granted = _actions(translated["Resources"]["FilterApiFunctionRole"])
    for action in ("athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                   "athena:StopQueryExecution"):
        (resource,) = granted[action]
        assert resource["Fn::Sub"].endswith(":workgroup/${HistoryWorkGroup}"), action
    for action in ("glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"):
        assert any("database/${HistoryDatabase}" in r["Fn::Sub"] for r in granted[action]), action
    assert {"Fn::Sub": "${AlertsBucket.Arn}/athena-results/*"} in granted["s3:PutObject"]
    function = translated["Resources"]["FilterApiFunction"]["Properties"]
    assert "HistoryLayer" in [ref["Ref"].rstrip("0123456789abcdef") for ref in function["Layers"]]


def test_the_workgroup_enforces_its_result_location_in_the_bucket(translated: dict[str, Any]) -> None:
    config = translated["Resources"]["HistoryWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${AlertsBucket}/athena-results/"}


def test_every_function_is_told_the_engine_database_and_workgroup(translated: dict[str, Any]) -> None:
    for name, resource in translated["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            env = resource["Properties"]["Environment"]["Variables"]
            assert env["HISTORY_ENGINE"] == "athena" and env["HISTORY_CACHE_DIR"] == "/tmp/history", name
            assert env["GLUE_DATABASE"] == {"Ref": "HistoryDatabase"}, name
            assert env["ATHENA_WORKGROUP"] == {"Ref": "HistoryWorkGroup"}, name


def test_the_archives_move_to_glacier_does_not_take_the_history(translated: dict[str, Any]) -> None:
    rules = translated["Resources"]["AlertsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    moving = [r for r in rules if r.get("Transitions")]
    assert moving and all(r.get("Prefix") == "alerts/" for r in moving)


def test_the_local_stack_queries_with_duckdb_from_a_mirror_of_its_own() -> None:
    from skystream.local.stack import local_environment, local_template

    env = local_environment(local_template("127.0.0.1:1"), "http://127.0.0.1:4566")
    other = local_environment(local_template("127.0.0.1:1"), "http://127.0.0.1:4567")
    assert env["HISTORY_ENGINE"] == "duckdb" and env["HISTORY_CACHE_DIR"] != other["HISTORY_CACHE_DIR"]
    assert env["HISTORY_CACHE_DIR"] != "/tmp/history"


def test_locally_the_writers_long_window_is_capped_and_the_others_kept() -> None:
    from skystream.local.esm import LOCAL_MAX_BATCHING_WINDOW_S, EventSourceRunner

    local = load_template(TEMPLATE, parameters={"KafkaAuth": "none"})
    (history,) = local.functions["HistoryWriterFunction"].kafka_sources
    (ingest,) = local.functions["IngestFunction"].kafka_sources
    assert history.batching_window_s == 300 and LOCAL_MAX_BATCHING_WINDOW_S == 2.0

    def runner(source, **kwargs) -> EventSourceRunner:
        return EventSourceRunner(source, lambda event, context: None, bootstrap_servers="127.0.0.1:1", **kwargs)

    assert runner(history).batching_window_s == 2.0
    assert runner(ingest).batching_window_s == ingest.batching_window_s == 1.0
    assert runner(history, batching_window_s=0.2).batching_window_s == 0.2  # a test's own window wins
