"""What infra/template.yaml gives users' access to their streams, checked on the SAM translation (what AWS gets):
the MSK configuration that makes ACLs decide, the customer-managed key of users' secrets, and that only the
filter API may write those secrets and associate them with the cluster. A planted error in the new resources
fails cfn-lint (test_template.py runs cfn-lint on the whole template and its translation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_template import TEMPLATE, lint, translate

from skystream.local.stack import local_template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return translate(TEMPLATE.read_text())["Resources"]


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """Every policy statement of a role, with the template's Fn::If taken on its true branch."""
    found = []
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            if isinstance(statement, dict) and "Effect" in statement:
                found.append(statement)
    return found


def _actions(role: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in _statements(role):
        value = statement["Action"]
        actions |= {value} if isinstance(value, str) else set(value)
    return actions


def test_the_cluster_configuration_makes_acls_decide(resources: dict[str, Any]) -> None:
    configuration = resources["KafkaAclConfiguration"]
    assert configuration["Type"] == "AWS::MSK::Configuration" and configuration["Condition"] == "UseMsk"
    properties = dict(line.split("=", 1) for line in configuration["Properties"]["ServerProperties"].split())
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["auto.create.topics.enable"] == "false"


def test_users_secrets_have_a_customer_managed_key_and_an_amazonmsk_name(resources: dict[str, Any]) -> None:
    key = resources["UserSecretsKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"  # a deleted key leaves every user's secret unreadable
    prefix = resources["FilterApiFunction"]["Properties"]["Environment"]["Variables"]["KAFKA_USER_SECRET_PREFIX"]
    assert prefix == {"Fn::Sub": "AmazonMSK_${AWS::StackName}-"}
    env = resources["FilterApiFunction"]["Properties"]["Environment"]["Variables"]
    assert env["KAFKA_USER_SECRETS_KEY"] == {"Fn::If": ["UseMskUsers", {"Fn::GetAtt": ["UserSecretsKey", "Arn"]}, ""]}
    assert env["KAFKA_USER_REGISTRY"] == {"Ref": "UserCredentials"}


def test_only_the_filter_api_writes_users_secrets_and_associates_them(resources: dict[str, Any]) -> None:
    api = resources["FilterApiFunctionRole"]
    statements = _statements(api)
    secrets = next(s for s in statements if "secretsmanager:CreateSecret" in s["Action"])
    assert secrets["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:"
                                              "${AWS::AccountId}:secret:AmazonMSK_${AWS::StackName}-*"}
    associate = next(s for s in statements if "kafka:BatchAssociateScramSecret" in s["Action"])
    assert set(associate["Action"]) == {"kafka:BatchAssociateScramSecret", "kafka:BatchDisassociateScramSecret",
                                        "kafka:ListScramSecrets"}
    assert associate["Resource"] == {"Ref": "MskClusterArn"}
    for statement in statements:
        if any(a.startswith("kms:") for a in ([statement["Action"]] if isinstance(statement["Action"], str)
                                              else statement["Action"])):
            assert statement["Resource"] in ({"Fn::GetAtt": ["UserSecretsKey", "Arn"]}, "*"), statement
            if statement["Resource"] == "*":  # only the functions' own SCRAM secret, through Secrets Manager
                assert "kms:ViaService" in str(statement.get("Condition")), statement
    # ACLs of users' topics (with MSK IAM the functions' role manages them)
    assert {"kafka-cluster:AlterCluster", "kafka-cluster:DescribeCluster"} <= _actions(api)
    for name, role in resources.items():
        if role["Type"] == "AWS::IAM::Role" and name != "FilterApiFunctionRole":
            assert _actions(role).isdisjoint({"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue",
                                              "kafka:BatchAssociateScramSecret", "kafka-cluster:AlterCluster"}), name


def test_a_self_managed_cluster_cannot_keep_users_in_msk_secrets() -> None:
    rules = translate(TEMPLATE.read_text())["Rules"]
    rule = rules["MskUsersNeedMsk"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "UserCredentials"}, "msk"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "KafkaTrigger"}, "MSK"]}


def test_the_local_stack_keeps_users_in_its_broker_and_logs_the_functions_in_with_scram() -> None:
    template = local_template("127.0.0.1:9092", scram_secret="AmazonMSK_skystream-functions")
    env = template.environment
    assert (env["KAFKA_AUTH"], env["KAFKA_SCRAM_SECRET_ARN"], env["KAFKA_USER_REGISTRY"]) == (
        "scram", "AmazonMSK_skystream-functions", "kafka")
    assert env["KAFKA_USER_SECRETS_KEY"] == ""


def test_a_planted_error_in_the_users_key_fails_cfn_lint(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    planted = text.replace("      EnableKeyRotation: true\n", "      EnableKeyRotation: true\n      PendingWindowInDays: 3\n", 1)
    assert planted != text
    path = tmp_path / "template.yaml"
    path.write_text(planted)
    findings = lint(path)
    assert any(f.startswith("E3034") and "minimum of 7" in f for f in findings), findings
