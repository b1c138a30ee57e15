"""Read ``infra/template.yaml``: the single source of truth for what the local stack creates.

Only the parts the local stack needs are interpreted: parameters (defaults), the
DynamoDB tables and S3 buckets, the topics under ``Metadata: Skystream::KafkaTopics``,
each function's handler, Kafka event sources and HTTP routes, and the Globals'
environment. Intrinsics are resolved the way CloudFormation would for a stack named
``skystream`` in account 000000000000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "us-east-1"
KAFKA_EVENT_TYPES = {"MSK", "SelfManagedKafka"}


class TemplateError(ValueError):
    """The template lacks something the local stack needs; the message names the resource."""


class _Tag:
    """An intrinsic function (``!Ref X`` and friends) kept as data until resolved."""

    def __init__(self, name: str, value: Any):
        self.name, self.value = name, value

    def __repr__(self) -> str:
        return f"!{self.name} {self.value!r}"


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tag:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return _Tag(suffix, value)


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


@dataclass(frozen=True)
class KafkaEventSource:
    function: str  # logical id of the function
    topics: list[str]
    batch_size: int
    batching_window_s: float
    starting_position: str  # LATEST | TRIM_HORIZON | EARLIEST
    consumer_group_id: str
    event_source: str  # "aws:kafka" (MSK) or "SelfManagedKafka"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: str  # relative to the repository root, e.g. functions/ingest_handler
    handler: str  # e.g. app.handler
    kafka_sources: list[KafkaEventSource] = field(default_factory=list)
    http_api: bool = False
    schedules: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int


@dataclass
class LocalTemplate:
    """What the template declares, resolved for the local stack."""

    tables: dict[str, dict[str, Any]]  # physical name -> CreateTable kwargs
    time_to_live: dict[str, str]  # physical table name -> TTL attribute
    buckets: list[str]
    topics: list[TopicSpec]
    functions: dict[str, FunctionSpec]
    environment: dict[str, str]
    parameters: dict[str, str]

    def function_by_code_dir(self, name: str) -> FunctionSpec:
        for spec in self.functions.values():
            if Path(spec.code_dir).name == name:
                return spec
        raise TemplateError(f"no function in the template has CodeUri functions/{name}/")


class _Resolver:
    def __init__(self, template: dict[str, Any], overrides: dict[str, str], stack_name: str):
        self.template = template
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.params = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        }
        self.params.update(overrides)
        self.pseudo = {
            "AWS::StackName": stack_name,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Region": LOCAL_REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"!Ref {name}: no such parameter or resource")
        props = resource.get("Properties", {})
        for key in ("TableName", "BucketName", "LayerName", "FunctionName"):
            if key in props:
                return str(self.resolve(props[key]))
        return f"{self.pseudo['AWS::StackName']}-{name}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, _Tag):
            if value.name == "Ref":
                return self.ref(value.value)
            if value.name == "Sub":
                text = value.value if isinstance(value.value, str) else value.value[0]
                extra = {} if isinstance(value.value, str) else self.resolve(value.value[1])
                return re.sub(
                    r"\$\{([^}!]+)\}",
                    lambda m: str(extra[m.group(1)]) if m.group(1) in extra else self.ref(m.group(1).split(".")[0]),
                    text,
                )
            if value.name == "GetAtt":
                target = value.value if isinstance(value.value, str) else ".".join(value.value)
                return f"arn:aws:local:::{target}"
            if value.name == "Join":
                sep, parts = value.value
                return sep.join(str(self.resolve(p)) for p in parts)
            raise TemplateError(f"intrinsic !{value.name} is not understood by the local stack")
        if isinstance(value, dict):
            if len(value) == 1:
                (key, inner), = value.items()
                if key == "Ref":
                    return self.ref(inner)
                if key.startswith("Fn::"):
                    return self.resolve(_Tag(key[4:], inner))
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def _table_kwargs(name: str, props: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return kwargs


def _function_spec(logical_id: str, props: dict[str, Any], resolver: _Resolver) -> FunctionSpec:
    code_uri = str(resolver.resolve(props.get("CodeUri", "")))
    code_dir = code_uri.replace("../", "", 1).rstrip("/")
    sources: list[KafkaEventSource] = []
    http_api = False
    schedules: list[str] = []
    for event in (props.get("Events") or {}).values():
        kind = event.get("Type")
        eprops = resolver.resolve(event.get("Properties", {}))
        if kind in KAFKA_EVENT_TYPES:
            sources.append(
                KafkaEventSource(
                    function=logical_id,
                    topics=list(eprops["Topics"]),
                    batch_size=int(eprops.get("BatchSize", 100)),
                    batching_window_s=float(eprops.get("MaximumBatchingWindowInSeconds", 0)),
                    starting_position=str(eprops.get("StartingPosition", "LATEST")),
                    consumer_group_id=str(eprops.get("ConsumerGroupId") or f"skystream-{logical_id}"),
                    event_source="aws:kafka" if kind == "MSK" else "SelfManagedKafka",
                )
            )
        elif kind in {"HttpApi", "Api"}:
            http_api = True
        elif kind in {"ScheduleV2", "Schedule"}:
            schedules.append(str(eprops.get("ScheduleExpression", "")))
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=code_dir,
        handler=str(props.get("Handler", "app.handler")),
        kafka_sources=sources,
        http_api=http_api,
        schedules=schedules,
    )


def load_template(
    path: Path, *, parameters: dict[str, str] | None = None, stack_name: str = "skystream"
) -> LocalTemplate:
    """Parse and resolve the template for the local stack."""
    raw = load_yaml(path)
    resolver = _Resolver(raw, parameters or {}, stack_name)
    tables: dict[str, dict[str, Any]] = {}
    ttl: dict[str, str] = {}
    buckets: list[str] = []
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in resolver.resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {}) or {}
        if kind == "AWS::DynamoDB::Table":
            name = resolver.ref(logical_id)
            tables[name] = _table_kwargs(name, resolver.resolve(props))
            spec = props.get("TimeToLiveSpecification")
            if spec and spec.get("Enabled"):
                ttl[name] = spec["AttributeName"]
        elif kind == "AWS::S3::Bucket":
            buckets.append(resolver.ref(logical_id))
        elif kind == "AWS::Serverless::Function":
            merged = {**(raw.get("Globals", {}).get("Function", {})), **props}
            functions[logical_id] = _function_spec(logical_id, merged, resolver)
    prefix = resolver.params.get("TopicPrefix", "")
    topics = [
        TopicSpec(
            name=prefix + str(t["Name"]),
            partitions=int(t.get("Partitions", 1)),
            retention_ms=int(float(t.get("RetentionHours", 168)) * 3600 * 1000),
        )
        for t in raw.get("Metadata", {}).get("Skystream::KafkaTopics", [])
    ]
    env_raw = raw.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    environment = {k: str(v) for k, v in resolver.resolve(env_raw).items()}
    return LocalTemplate(
        tables=tables,
        time_to_live=ttl,
        buckets=buckets,
        topics=topics,
        functions=functions,
        environment=environment,
        parameters=dict(resolver.params),
    )
