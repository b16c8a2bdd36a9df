"""The committed schema files are what the code exports, and the AsyncAPI document hangs together.

If a test here fails after a change to the contracts, regenerate and commit the files:

    uv run python -m copa_contracts.export
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from copa_contracts.export import (
    EXPORT_COMMAND,
    SCHEMAS_DIR,
    asyncapi_document,
    build_documents,
    drift,
    event_schema_key,
    events_schema,
    main,
)
from copa_contracts.topics import ALL_EVENTS, ALL_TOPICS


def test_committed_schemas_match_the_code() -> None:
    problems = drift(SCHEMAS_DIR)
    assert not problems, (
        f"libs/contracts/schemas/ drifted from the code; run `{EXPORT_COMMAND}` and commit.\n"
        + "\n".join(problems)
    )


def test_export_is_deterministic_and_ends_with_a_newline() -> None:
    first, second = build_documents(), build_documents()
    assert first == second
    for name, text in first.items():
        assert text.endswith("}\n"), name
        assert json.loads(text), name


def test_check_fails_with_a_diff_summary_on_drift(tmp_path: Path, capsys: Any) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0

    edited = tmp_path / "asyncapi.json"
    edited.write_text(edited.read_text().replace('"3.0.0"', '"2.6.0"', 1))
    (tmp_path / "edition.schema.json").unlink()
    (tmp_path / "old.schema.json").write_text("{}\n")

    assert main(["--check", "--out", str(tmp_path)]) == 1
    report = capsys.readouterr().err
    assert "asyncapi.json: 2 lines differ" in report  # one line removed, one added
    assert "edition.schema.json: missing" in report
    assert "old.schema.json: not produced by the code any more" in report
    assert EXPORT_COMMAND in report


def test_every_event_has_a_schema_keyed_by_type_and_version() -> None:
    definitions = events_schema()["$defs"]
    assert "Envelope" in definitions
    for event in ALL_EVENTS:
        schema = definitions[event_schema_key(event)]
        assert schema["title"] == event.__name__
        assert schema["additionalProperties"] is False


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves() -> None:
    for document in (events_schema(), asyncapi_document()):
        for ref in _refs(document):
            assert _resolve(document, ref) is not None, ref


def test_asyncapi_has_a_channel_messages_and_a_send_operation_per_topic() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= document["info"].keys()
    assert {"embedded", "kafka"} <= document["servers"].keys()
    for server in document["servers"].values():
        assert server["protocol"] == "kafka"
    for topic in ALL_TOPICS:
        channel = document["channels"][topic.name]
        assert channel["address"] == topic.name
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        operation = document["operations"][f"send-{topic.name}"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{topic.name}"}
        assert operation["tags"] == [{"name": topic.producer}]
        for event in topic.events:
            key = event_schema_key(event)
            assert key in channel["messages"]
            message = document["components"]["messages"][key]
            assert message["name"] == event.event_type
            assert topic.key in message["bindings"]["kafka"]["key"]["description"]
            envelope, constraint = message["payload"]["allOf"]
            assert envelope == {"$ref": "#/components/schemas/Envelope"}
            assert constraint["properties"]["type"] == {"const": event.event_type}
            assert constraint["properties"]["payload"] == {"$ref": f"#/components/schemas/{key}"}
            (example,) = message["examples"]
            assert example["payload"]["type"] == event.event_type
            assert example["payload"]["key"] == example["payload"]["payload"][topic.key]


# Fields the AsyncAPI 3.0.0 JSON Schema allows on each object (spec-json-schemas,
# definitions/3.0.0); every object there has additionalProperties: false besides `x-` fields.
_ALLOWED = {
    "root": {
        "asyncapi",
        "id",
        "info",
        "servers",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    },
    "info": {
        "title",
        "version",
        "description",
        "termsOfService",
        "contact",
        "license",
        "tags",
        "externalDocs",
    },
    "server": {
        "host",
        "pathname",
        "title",
        "summary",
        "description",
        "protocol",
        "protocolVersion",
        "variables",
        "security",
        "tags",
        "externalDocs",
        "bindings",
    },
    "channel": {
        "address",
        "messages",
        "title",
        "summary",
        "description",
        "servers",
        "parameters",
        "tags",
        "externalDocs",
        "bindings",
    },
    "operation": {
        "action",
        "channel",
        "title",
        "summary",
        "description",
        "security",
        "tags",
        "externalDocs",
        "bindings",
        "traits",
        "messages",
        "reply",
    },
    "message": {
        "headers",
        "payload",
        "correlationId",
        "contentType",
        "name",
        "title",
        "summary",
        "description",
        "tags",
        "externalDocs",
        "bindings",
        "examples",
        "traits",
        "deprecated",
    },
    "parameter": {"enum", "default", "description", "examples", "location"},
    "kafka_message": {
        "key",
        "schemaIdLocation",
        "schemaIdPayloadEncoding",
        "schemaLookupStrategy",
        "bindingVersion",
    },
    "kafka_channel": {"topic", "partitions", "replicas", "topicConfiguration", "bindingVersion"},
    "example": {"headers", "payload", "name", "summary"},
}


def _only(kind: str, obj: dict[str, Any]) -> None:
    extra = {key for key in obj if not key.startswith("x-")} - _ALLOWED[kind]
    assert not extra, f"{kind} has fields AsyncAPI 3.0.0 does not allow: {extra}"


def test_asyncapi_objects_use_only_fields_the_3_0_0_schema_allows() -> None:
    document = asyncapi_document()
    _only("root", document)
    _only("info", document["info"])
    for server in document["servers"].values():
        _only("server", server)
    for channel in document["channels"].values():
        _only("channel", channel)
        _only("kafka_channel", channel.get("bindings", {}).get("kafka", {}))
        for parameter in channel.get("parameters", {}).values():
            _only("parameter", parameter)
    for operation in document["operations"].values():
        _only("operation", operation)
        assert operation["action"] in {"send", "receive"}
        channel = _resolve(document, operation["channel"]["$ref"])
        channel_message_refs = {
            f"{operation['channel']['$ref']}/messages/{name}" for name in channel["messages"]
        }
        for message_ref in operation["messages"]:
            assert message_ref["$ref"] in channel_message_refs  # a subset of the channel's
    for message in document["components"]["messages"].values():
        _only("message", message)
        _only("kafka_message", message["bindings"]["kafka"])
        for example in message.get("examples", []):
            _only("example", example)
    for name in document["components"]["schemas"]:
        assert all(c.isalnum() or c in "._-" for c in name), name
