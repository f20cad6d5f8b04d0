"""Extract from Twilio's OpenAPI spec what tests/test_sandbox_voice.py and test_sandbox_messages.py hold
the sandbox's voice and Messages APIs to.

The full spec (1.8 MB) lives outside the repository, at <repo>/../shared/specs/twilio_api_v2010.json,
and a fresh clone may not have it; the extract is committed beside this script so the tests always
run, and one test re-extracts and compares whenever the spec is present. Re-run after updating the spec:

    .venv/bin/python tests/data/extract_twilio_schemas.py [path/to/twilio_api_v2010.json]

For each operation the sandbox serves: its response schema, query parameter names and form
parameter names; plus the component schemas those responses refer to. Descriptions and `x-twilio`
annotations are dropped; everything else is copied as is (OpenAPI 3.0: `nullable`, `$ref`s).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SPEC = HERE.parents[2] / "shared" / "specs" / "twilio_api_v2010.json"
EXTRACT = HERE / "twilio_voice_schemas.json"
ACCOUNT = "/2010-04-01/Accounts/{AccountSid}"
# operationId -> (path under the account, method, success status)
OPERATIONS = {
    "CreateCall": ("/Calls.json", "post", "201"),
    "ListCall": ("/Calls.json", "get", "200"),
    "FetchCall": ("/Calls/{Sid}.json", "get", "200"),
    "UpdateCall": ("/Calls/{Sid}.json", "post", "200"),
    "ListRecording": ("/Recordings.json", "get", "200"),
    "FetchRecording": ("/Recordings/{Sid}.json", "get", "200"),
    "ListCallRecording": ("/Calls/{CallSid}/Recordings.json", "get", "200"),
    "FetchCallRecording": ("/Calls/{CallSid}/Recordings/{Sid}.json", "get", "200"),
    "ListTranscription": ("/Transcriptions.json", "get", "200"),
    "FetchTranscription": ("/Transcriptions/{Sid}.json", "get", "200"),
    "ListRecordingTranscription": ("/Recordings/{RecordingSid}/Transcriptions.json", "get", "200"),
    "FetchRecordingTranscription": ("/Recordings/{RecordingSid}/Transcriptions/{Sid}.json", "get", "200"),
    "CreateMessage": ("/Messages.json", "post", "201"),
    "ListMessage": ("/Messages.json", "get", "200"),
    "FetchMessage": ("/Messages/{Sid}.json", "get", "200"),
}
REF_PREFIX = "#/components/schemas/"


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _strip(value) for key, value in node.items()
                if key != "x-twilio" and not (key == "description" and isinstance(value, str))}
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].removeprefix(REF_PREFIX)} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def extract(spec: dict) -> dict:
    operations = {}
    for operation_id, (path, method, status) in OPERATIONS.items():
        operation = spec["paths"][ACCOUNT + path][method]
        assert operation["operationId"] == operation_id, (operation_id, operation["operationId"])
        entry = {
            "path": ACCOUNT + path, "method": method.upper(), "status": int(status),
            "query": [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"],
            "response": _strip(operation["responses"][status]["content"]["application/json"]["schema"]),
        }
        if "requestBody" in operation:
            form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
            entry["form"] = list(form["properties"])
            entry["form_required"] = form.get("required", [])
        operations[operation_id] = entry
    schemas: dict[str, Any] = {}
    pending = _refs(operations)
    while pending:
        name = pending.pop()
        if name not in schemas:
            schemas[name] = _strip(spec["components"]["schemas"][name])
            pending |= _refs(schemas[name])
    return {
        "source": {"file": "twilio_api_v2010.json", "openapi": spec["openapi"], "version": spec["info"]["version"]},
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def render(spec: dict) -> str:
    return json.dumps(extract(spec), indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> None:
    spec_path = Path(argv[1]) if len(argv) > 1 else SPEC
    EXTRACT.write_text(render(json.loads(spec_path.read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"wrote {EXTRACT} from {spec_path}")


if __name__ == "__main__":
    main(sys.argv)
