"""The local stack's reading of infra/template.yaml: intrinsics resolved as CloudFormation would,
Kafka triggers switched by parameters, and exactly the declared tables, bucket and topics."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from skystream.local.template import TemplateError, load_template, load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return path


def test_the_real_template_gives_every_table_with_its_keys_indexes_and_ttl() -> None:
    raw = load_yaml(TEMPLATE)
    local = load_template(TEMPLATE, parameters={"KafkaAuth": "none"})
    declared = {k: v["Properties"] for k, v in raw["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}
    assert len(local.tables) == len(declared) == 8
    for logical_id, props in declared.items():
        name = f"skystream-{props['TableName'].value.split('-', 1)[1]}"
        table = local.tables[name]
        assert table["KeySchema"] == props["KeySchema"], logical_id
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert [i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])] == [
            i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])
        ]
        if "TimeToLiveSpecification" in props:
            assert local.time_to_live[name] == props["TimeToLiveSpecification"]["AttributeName"]
    assert set(local.time_to_live) == {"skystream-digest", "skystream-quota", "skystream-users"}
    assert local.buckets == ["skystream-alerts-000000000000"]
    assert [t.name for t in local.topics] == ["alerts", "alerts-enriched", "alerts-dlq", "annotations"]


def test_the_real_template_gives_three_msk_triggers_and_the_daily_schedule() -> None:
    local = load_template(TEMPLATE)
    sources = {f.logical_id: f.kafka_sources for f in local.functions.values()}
    assert {k: [s.topics for s in v] for k, v in sources.items() if v} == {
        "IngestFunction": [["alerts"]],
        "FilterMatcherFunction": [["alerts-enriched"]],
        "AnnotationFunction": [["annotations"]],
        "HistoryWriterFunction": [["alerts-enriched"]],  # issue 17
    }
    ingest = sources["IngestFunction"][0]
    assert (ingest.event_source, ingest.consumer_group_id, ingest.batch_size) == ("aws:kafka", "skystream-ingest", 500)
    assert local.functions["EmailDigestFunction"].schedules == ["cron(00 12 * * ? *)"]
    assert local.functions["FilterApiFunction"].http_api


def test_parameters_switch_triggers_prefix_topics_and_move_the_digest() -> None:
    local = load_template(
        TEMPLATE,
        parameters={"KafkaTrigger": "SelfManagedKafka", "KafkaAuth": "scram", "TopicPrefix": "dev.",
                    "DigestTime": "07:45", "KafkaScramSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x"},
        stack_name="dev",
    )
    ingest = local.functions["IngestFunction"].kafka_sources[0]
    assert (ingest.event_source, ingest.topics, ingest.consumer_group_id) == ("SelfManagedKafka", ["dev.alerts"], "dev-ingest")
    assert [t.name for t in local.topics] == ["dev.alerts", "dev.alerts-enriched", "dev.alerts-dlq", "dev.annotations"]
    assert local.environment["TOPIC_ENRICHED"] == "dev.alerts-enriched"
    assert local.environment["OBJECTS_TABLE"] == "dev-objects"
    assert local.environment["KAFKA_SCRAM_SECRET_ARN"].endswith("secret:x")
    assert local.functions["EmailDigestFunction"].schedules == ["cron(45 07 * * ? *)"]


def test_an_undeclared_parameter_is_refused() -> None:
    with pytest.raises(TemplateError, match="KafkaBootstrap"):
        load_template(TEMPLATE, parameters={"KafkaBootstrap": "x:1"})


INTRINSICS = """
Parameters:
  Mode: {Type: String, Default: a}
  Names: {Type: CommaDelimitedList, Default: "x,y,z"}
  Empty: {Type: CommaDelimitedList, Default: ""}
Conditions:
  IsA: !Equals [!Ref Mode, a]
  NotA: !Not [!Condition IsA]
  Both: !And [!Condition IsA, !Equals [!Select [1, !Ref Names], y]]
  Either: !Or [!Condition NotA, {"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Empty"}]}, ""]}]
Resources:
  Kept:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !If [Both, !Sub ["${AWS::StackName}-${N}", {N: !Select [2, !Split [",", "p,q,r"]]}], other]
      AttributeDefinitions: [{AttributeName: k, AttributeType: S}]
      KeySchema: [{AttributeName: k, KeyType: HASH}]
      GlobalSecondaryIndexes: !If [Either, !Ref AWS::NoValue, [{IndexName: never}]]
  Skipped:
    Type: AWS::DynamoDB::Table
    Condition: NotA
    Properties:
      TableName: skipped
      AttributeDefinitions: [{AttributeName: k, AttributeType: S}]
      KeySchema: [{AttributeName: k, KeyType: HASH}]
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Join ["-", [!Ref AWS::StackName, !GetAtt Kept.Arn, !If [IsA, !Ref AWS::NoValue, z]]]
"""


def test_conditions_if_select_split_join_sub_and_novalue(tmp_path: Path) -> None:
    local = load_template(_write(tmp_path, INTRINSICS))
    assert list(local.tables) == ["skystream-r"]  # Skipped's condition is false
    assert "GlobalSecondaryIndexes" not in local.tables["skystream-r"]  # NoValue drops the property
    assert local.buckets == ["skystream-arn:aws:dynamodb:us-east-1:000000000000:table/skystream-r"]
    other = load_template(_write(tmp_path, INTRINSICS), parameters={"Mode": "b"})
    assert sorted(other.tables) == ["other", "skipped"]
    assert other.buckets == ["skystream-arn:aws:dynamodb:us-east-1:000000000000:table/other-z"]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("BucketName: !Select [5, [a, b]]", "out of range"),
        ("BucketName: !If [Missing, a, b]", "condition Missing is not declared"),
        ("BucketName: !ImportValue shared-bucket", "ImportValue is not understood by the local stack"),
        ("BucketName: !Ref Nowhere", "no such parameter or resource"),
    ],
)
def test_what_the_local_stack_cannot_resolve_is_named(tmp_path: Path, snippet: str, message: str) -> None:
    text = "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      " + snippet + "\n"
    with pytest.raises(TemplateError, match=message):
        load_template(_write(tmp_path, text))


def test_a_mapping_on_a_function_outside_the_template_is_refused(tmp_path: Path) -> None:
    text = yaml.safe_dump({"Resources": {"M": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
        "FunctionName": {"Ref": "Ghost"}, "Topics": ["t"], "SelfManagedEventSource": {"Endpoints": {}}}}}})
    with pytest.raises(TemplateError, match="Ghost"):
        load_template(_write(tmp_path, text))
