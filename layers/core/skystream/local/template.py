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

from skystream.streams.provision import TopicSpec  # the topics' shape belongs to the provisioning they feed

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


class _NoValue:
    """``AWS::NoValue``: the property or list item it stands for is dropped."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class _Resolver:
    """Evaluates intrinsics the way CloudFormation would, with parameter defaults (or overrides)."""

    def __init__(self, template: dict[str, Any], overrides: dict[str, str], stack_name: str):
        self.template = template
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.param_specs: dict[str, Any] = template.get("Parameters", {})
        self.params = {name: str(spec.get("Default", "")) for name, spec in self.param_specs.items()}
        unknown = set(overrides) - set(self.params)
        if unknown:
            raise TemplateError(f"parameters {sorted(unknown)} are not declared in the template's Parameters")
        self.params.update(overrides)
        self.conditions_raw: dict[str, Any] = template.get("Conditions", {}) or {}
        self._conditions: dict[str, bool] = {}
        self.pseudo = {
            "AWS::StackName": stack_name,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Region": LOCAL_REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            value = self.params[name]
            if self.param_specs.get(name, {}).get("Type") == "CommaDelimitedList":
                return [] if value == "" else [v.strip() for v in value.split(",")]
            return value
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"!Ref {name}: no such parameter or resource")
        props = resource.get("Properties", {})
        for key in ("TableName", "BucketName", "LayerName", "FunctionName", "QueueName"):
            if key in props:
                return str(self.resolve(props[key]))
        return f"{self.pseudo['AWS::StackName']}-{name}"

    def condition(self, name: str) -> bool:
        """The value of a named condition (evaluated once, on the resolved parameters)."""
        if name not in self._conditions:
            if name not in self.conditions_raw:
                raise TemplateError(f"condition {name} is not declared in the template's Conditions")
            self._conditions[name] = bool(self._evaluate(self.conditions_raw[name]))
        return self._conditions[name]

    def _evaluate(self, value: Any) -> bool:
        tag = _as_tag(value)
        if tag is None:
            raise TemplateError(f"a condition must be an intrinsic (Fn::Equals, Fn::And...), not {value!r}")
        if tag.name == "Equals":
            left, right = (self.resolve(v) for v in tag.value)
            return str(left) == str(right)
        if tag.name == "Not":
            return not self._evaluate(tag.value[0])
        if tag.name == "And":
            return all(self._evaluate(v) for v in tag.value)
        if tag.name == "Or":
            return any(self._evaluate(v) for v in tag.value)
        if tag.name == "Condition":
            return self.condition(tag.value)
        raise TemplateError(f"intrinsic !{tag.name} cannot be used in a condition")

    def _sub(self, value: Any) -> str:
        text = value if isinstance(value, str) else value[0]
        extra = {} if isinstance(value, str) else self.resolve(value[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and name.split(".")[0] in self.resources:
                return self._get_att(name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _get_att(self, target: list[str]) -> str:
        logical_id, attribute = target
        if logical_id not in self.resources:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: no such resource")
        name = self.ref(logical_id)
        kind = self.resources[logical_id].get("Type", "")
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{name}"
        return f"arn:aws:local:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{logical_id}/{attribute}"

    def _intrinsic(self, tag: _Tag) -> Any:
        name, value = tag.name, tag.value
        if name == "Ref":
            return self.ref(value)
        if name == "Sub":
            return self._sub(value)
        if name == "GetAtt":
            return self._get_att(value.split(".", 1) if isinstance(value, str) else list(value))
        if name == "Join":
            sep, parts = value
            parts = self.resolve(parts)
            return sep.join(str(p) for p in parts if p is not NO_VALUE)
        if name == "Split":
            sep, text = value
            return str(self.resolve(text)).split(sep)
        if name == "Select":
            index, items = value
            items = self.resolve(items)
            position = int(self.resolve(index))
            if not 0 <= position < len(items):
                raise TemplateError(f"!Select {position} is out of range for {items!r}")
            return items[position]
        if name == "If":
            condition, when_true, when_false = value
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name in {"Equals", "Not", "And", "Or", "Condition"}:
            return self._evaluate(tag)
        if name == "GetAZs":
            return [f"{LOCAL_REGION}{zone}" for zone in "abc"]
        raise TemplateError(f"intrinsic !{name} is not understood by the local stack (skystream.local.template)")

    def resolve(self, value: Any) -> Any:
        tag = _as_tag(value)
        if tag is not None:
            return self._intrinsic(tag)
        if isinstance(value, dict):
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value


def _as_tag(value: Any) -> _Tag | None:
    """``!Name x`` and the long form ``{"Fn::Name": x}`` / ``{"Ref": x}`` as one shape."""
    if isinstance(value, _Tag):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "Ref":
            return _Tag("Ref", inner)
        if key == "Condition" and isinstance(inner, str):
            return _Tag("Condition", inner)
        if key.startswith("Fn::"):
            return _Tag(key[4:], inner)
    return None


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


def _mapping_source(logical_id: str, props: dict[str, Any]) -> KafkaEventSource | None:
    """An ``AWS::Lambda::EventSourceMapping`` on Kafka (MSK or self-managed), as the local runner needs it.

    Returns None for a mapping on something else (SQS, streams).
    ``props`` are already resolved, so ``Fn::If`` on ``EventSourceArn`` picked MSK or self-managed.
    """
    msk = "AmazonManagedKafkaEventSourceConfig" in props or ":kafka:" in str(props.get("EventSourceArn", ""))
    self_managed = "SelfManagedEventSource" in props
    if not (msk or self_managed):
        return None
    function = props.get("FunctionName")
    if not isinstance(function, _FunctionRef):
        raise TemplateError(f"{logical_id}: FunctionName must be !Ref of a function in this template")
    config = props.get("AmazonManagedKafkaEventSourceConfig") or props.get("SelfManagedKafkaEventSourceConfig") or {}
    return KafkaEventSource(
        function=function.logical_id,
        topics=list(props["Topics"]),
        batch_size=int(props.get("BatchSize", 100)),
        batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        starting_position=str(props.get("StartingPosition", "LATEST")),
        consumer_group_id=str(config.get("ConsumerGroupId") or f"skystream-{function.logical_id}"),
        event_source="aws:kafka" if msk else "SelfManagedKafka",
    )


@dataclass(frozen=True)
class _FunctionRef:
    logical_id: str


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
    mappings: list[KafkaEventSource] = []
    for logical_id, resource in resolver.resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties", {}) or {}
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue  # CloudFormation would not create it with these parameters
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
        elif kind == "AWS::Lambda::EventSourceMapping":
            function = props.get("FunctionName")
            function_tag = _as_tag(function)
            resolved = resolver.resolve({k: v for k, v in props.items() if k != "FunctionName"})
            if function_tag is not None and function_tag.name == "Ref":
                resolved["FunctionName"] = _FunctionRef(str(function_tag.value))
            mapping = _mapping_source(logical_id, resolved)
            if mapping is not None:
                mappings.append(mapping)
    for source in mappings:
        if source.function not in functions:
            raise TemplateError(f"an event source mapping names {source.function}, which is not a function here")
        functions[source.function].kafka_sources.append(source)
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
