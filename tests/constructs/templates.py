"""Reading synthesized templates in tests: resources by type, intrinsics made concrete, and the
two checkers every synthesized app must pass (cdk-nag AwsSolutions, cfn-lint).

``concrete`` turns the ``Fn::Join`` of a client-configuration token into the text CloudFormation
would produce, with recognisable placeholders for references (``ref:<logical id>`` for a Ref,
``arn:<logical id>`` for a GetAtt ``.Arn``), so tests can parse it with the runtime's own parser
and still see which resource each value points at.
"""

from __future__ import annotations

import re
from typing import Any

HASH = re.compile(r"\b[0-9a-f]{64}\b")


def resources(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of ``type_name``."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def concrete(value: Any) -> str:
    """The string a (possibly ``Fn::Join``-ed) template value stands for, with placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(concrete(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        return "us-east-1" if name == "AWS::Region" else f"ref:{name}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"{attribute.lower()}:{logical_id}"
    raise AssertionError(f"unexpected intrinsic in a client configuration: {value!r}")


def normalised(template: dict[str, Any]) -> dict[str, Any]:
    """The template with content hashes (asset hashes) replaced, for snapshots."""
    import json

    text = HASH.sub("<ASSET_HASH>", json.dumps(template, sort_keys=True))
    return dict(json.loads(text))


def nag_findings(app: Any) -> list[str]:
    """Every unacknowledged cdk-nag AwsSolutions finding in ``app``: rule, path, description."""
    from cdk_nag import AwsSolutionsChecks

    report = AwsSolutionsChecks().validate_scope(app)
    findings = [
        f"{violation.rule_name} at {resource.template_path}: {violation.description}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]
    if not report.success and not findings:
        findings.append("cdk-nag reported a failure without a violation")
    return findings


def lint_errors(template: dict[str, Any] | str) -> list[str]:
    """The cfn-lint errors (rules ``E...``; warnings pass) of a template or its JSON text."""
    import json

    from cfnlint.api import lint

    text = template if isinstance(template, str) else json.dumps(template)
    return [str(match) for match in lint(text, regions=["us-east-1"]) if match.rule.id[0] == "E"]
