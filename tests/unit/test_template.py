"""infra/template.yaml is deployable: cfn-lint on the SAM file, the SAM transform done offline
with aws-sam-translator, and cfn-lint on what it produces (the CloudFormation AWS would get).

Linting the translated output matters: the SAM file hides what the transform generates (roles,
schedules, API stages), and a bad value in them only shows once translated. A copy of the
template with a planted error (an MSK trigger with BatchSize 20000, above Lambda's 10000 maximum)
proves the translated-output check can fail.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint_file
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
RELAY_TEMPLATE = ROOT / "infra" / "relay.yaml"
PLACEHOLDER_CODE = "s3://skystream-placeholder-artifacts/code.zip"


def lint(path: Path) -> list[str]:
    """cfn-lint's findings (errors and warnings; informational ones excluded) as readable lines."""
    matches = lint_file(path, ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})" for m in matches if m.rule.id[0] in "EW"]


def translate(template_text: str) -> dict[str, Any]:
    """The SAM transform, offline: placeholder code URIs, no managed-policy lookup, a fixed region."""
    sam = yaml_parse(template_text)
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = PLACEHOLDER_CODE
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name="us-east-1"),
    )
    # The stub policy loader: the template names its AWS-managed policies by full ARN, so no lookup is needed.
    return translator.translate(copy.deepcopy(sam), {}, get_managed_policy_map=lambda: {})


def check_translated(template_text: str, workdir: Path) -> list[str]:
    out = workdir / "translated.json"
    out.write_text(json.dumps(translate(template_text), indent=1))
    return lint(out)


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate(TEMPLATE.read_text())


def test_cfn_lint_passes_on_the_sam_template() -> None:
    assert lint(TEMPLATE) == []


def test_cfn_lint_passes_on_the_translated_template(tmp_path: Path) -> None:
    assert check_translated(TEMPLATE.read_text(), tmp_path) == []


def test_a_planted_batch_size_error_fails_the_translated_check(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    start = text.index("  IngestTrigger:\n")
    planted = text[:start] + re.sub(r"BatchSize: \d+", "BatchSize: 20000", text[start:], count=1)
    assert planted != text
    ingest = yaml_parse(planted)["Resources"]["IngestTrigger"]["Properties"]
    assert ingest["BatchSize"] == 20000 and ingest["EventSourceArn"]["Fn::If"][0] == "UseMsk"
    findings = check_translated(planted, tmp_path)
    assert findings, "cfn-lint accepted an MSK trigger with BatchSize 20000"
    assert any(f.startswith("E") and "20000" in f for f in findings), findings


def test_cfn_lint_passes_on_the_relay_template() -> None:
    assert lint(RELAY_TEMPLATE) == []


# ---------------------------------------------------------------------------- what the template holds


def _resources(translated: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in translated["Resources"].items() if v["Type"] == kind}


def test_functions_run_python_3_12_or_newer_with_the_core_layer(translated: dict[str, Any]) -> None:
    functions = _resources(translated, "AWS::Lambda::Function")
    assert len(functions) == 6  # issue 17 added the history writer
    for name, function in functions.items():
        props = function["Properties"]
        major, minor = (int(x) for x in props["Runtime"].removeprefix("python").split("."))
        assert (major, minor) >= (3, 12), name
        assert props["Layers"], name
        assert props["MemorySize"] >= 512 and props["Timeout"] >= 29, name


def test_every_setting_the_code_reads_is_in_the_environment(translated: dict[str, Any]) -> None:
    config_source = (ROOT / "layers/core/skystream/config.py").read_text()
    read = set(re.findall(r'_env\("([A-Z_]+)"', config_source)) - {"AWS_REGION"}
    for name, function in _resources(translated, "AWS::Lambda::Function").items():
        env = function["Properties"]["Environment"]["Variables"]
        assert read <= set(env), (name, read - set(env))


def test_kafka_triggers_have_batching_group_and_failure_destination(translated: dict[str, Any]) -> None:
    mappings = _resources(translated, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 4  # issue 17 added the history writer's
    for name, mapping in mappings.items():
        props = mapping["Properties"]
        assert 1 <= props["BatchSize"] <= 10000, name
        assert props["MaximumBatchingWindowInSeconds"] >= 0, name
        # The history keeps every record the topic holds, whatever the operator chose for the others (issue 17).
        expected_start = "TRIM_HORIZON" if name == "HistoryWriterTrigger" else {"Ref": "StartingPosition"}
        assert props["StartingPosition"] == expected_start, name
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["KafkaFailureQueue", "Arn"]}
        # One parameter switches every trigger between MSK and a self-managed cluster.
        assert props["EventSourceArn"]["Fn::If"][0] == "UseMsk", name
        assert props["SelfManagedEventSource"]["Fn::If"][0] == "UseMsk", name
        assert "ConsumerGroupId" in props["AmazonManagedKafkaEventSourceConfig"]["Fn::If"][1], name


def test_tables_are_on_demand_and_the_bucket_is_private_and_encrypted(translated: dict[str, Any]) -> None:
    tables = _resources(translated, "AWS::DynamoDB::Table")
    assert {t["Properties"]["BillingMode"] for t in tables.values()} == {"PAY_PER_REQUEST"}
    (bucket,) = _resources(translated, "AWS::S3::Bucket").values()
    block = bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block[k] for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            statements.append(statement["Fn::If"][1] if "Fn::If" in statement else statement)
    return statements


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_only_the_digest_and_the_suspenders_send_mail_and_only_as_the_sender_identity(
        translated: dict[str, Any]) -> None:
    roles = _resources(translated, "AWS::IAM::Role")
    senders = {
        name: s for name, role in roles.items() for s in _statements(role) if any("ses:" in a for a in _actions(s))
    }
    # issue 13: the matcher and the annotation trigger email the owner of a filter they suspend
    assert sorted(senders) == ["AnnotationFunctionRole", "EmailDigestFunctionRole", "FilterMatcherFunctionRole"]
    assert _actions(senders["EmailDigestFunctionRole"]) == {"ses:SendEmail", "ses:SendRawEmail"}
    assert _actions(senders["FilterMatcherFunctionRole"]) == _actions(senders["AnnotationFunctionRole"]) == {
        "ses:SendRawEmail"}
    for statement in senders.values():
        assert statement["Resource"]["Fn::Sub"].endswith(":identity/${DigestSender}")


def _table_refs(role: dict[str, Any]) -> dict[str, set[str]]:
    """Table logical id -> DynamoDB actions the role is granted on it."""
    granted: dict[str, set[str]] = {}
    for statement in _statements(role):
        if not any(a.startswith("dynamodb:") for a in _actions(statement)):
            continue
        for resource in statement["Resource"]:
            table = resource["Fn::Sub"][1]["tableName"]["Ref"]
            granted.setdefault(table, set()).update(_actions(statement))
    return granted


@pytest.mark.parametrize(
    ("role", "writes", "reads", "updates"),
    [
        ("IngestFunctionRole", {"ObjectsTable"}, set(), set()),
        # issue 13: the matcher and the annotation trigger count failures on, and suspend, filter items
        ("FilterMatcherFunctionRole", {"DigestTable", "QuotaTable"},
         {"UsersTable", "ObjectsTable", "AnnotationsTable", "ContextTable", "WatchlistsTable"}, {"FiltersTable"}),
        ("AnnotationFunctionRole", {"DigestTable", "QuotaTable"},
         {"UsersTable", "ObjectsTable", "AnnotationsTable", "ContextTable", "WatchlistsTable"}, {"FiltersTable"}),
        ("EmailDigestFunctionRole", {"DigestTable"}, {"UsersTable"}, set()),
        ("FilterApiFunctionRole", {"FiltersTable", "UsersTable", "AnnotationsTable", "ContextTable", "QuotaTable",
                                   "WatchlistsTable"},
         {"ObjectsTable"}, set()),
    ],
)
def test_each_function_reaches_only_its_own_tables(
    translated: dict[str, Any], role: str, writes: set[str], reads: set[str], updates: set[str]
) -> None:
    granted = _table_refs(translated["Resources"][role])
    assert set(granted) == writes | reads | updates
    for table in writes:
        assert "dynamodb:PutItem" in granted[table], table
    for table in reads:
        assert granted[table].isdisjoint({"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}), table
    for table in updates:  # read, and update items in place: never put or delete one
        assert "dynamodb:UpdateItem" in granted[table] and "dynamodb:GetItem" in granted[table], table
        assert granted[table].isdisjoint({"dynamodb:PutItem", "dynamodb:DeleteItem"}), table
