"""Template values resolve to local values; what cannot be resolved is named."""

from __future__ import annotations

from typing import Any

import pytest
from lambda_jobs_tools.emulator.intrinsics import Resolver, UnresolvableError

REFS = {"Queue": "https://sqs/q", "AWS::Region": "eu-west-1", "Env": "prod"}
ATTS = {("Queue", "Arn"): "arn:aws:sqs:eu-west-1:1:q"}


def resolver(conditions: dict[str, Any] | None = None) -> Resolver:
    return Resolver(lambda n: REFS[n], lambda r, a: ATTS[(r, a)], conditions)


def test_ref_getatt_join_select_split_resolve_to_local_values() -> None:
    value = {
        "Fn::Join": [
            "|",
            [
                {"Ref": "Queue"},
                {"Fn::GetAtt": ["Queue", "Arn"]},
                {"Fn::GetAtt": "Queue.Arn"},
                {"Fn::Select": [1, {"Fn::Split": [":", {"Fn::GetAtt": ["Queue", "Arn"]}]}]},
            ],
        ]
    }
    assert resolver().resolve(value) == (
        "https://sqs/q|arn:aws:sqs:eu-west-1:1:q|arn:aws:sqs:eu-west-1:1:q|aws"
    )


def test_sub_fills_refs_attributes_variables_and_keeps_escaped_literals() -> None:
    text = "${AWS::Region}/${Queue}/${Queue.Arn}/${Name}/${!Literal}"
    value = {"Fn::Sub": [text, {"Name": {"Ref": "Env"}}]}
    assert (
        resolver().resolve(value)
        == "eu-west-1/https://sqs/q/arn:aws:sqs:eu-west-1:1:q/prod/${Literal}"
    )


def test_conditions_and_no_value_drop_properties() -> None:
    conditions = {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}}
    value = {
        "A": {"Fn::If": ["IsProd", "yes", "no"]},
        "B": {"Ref": "AWS::NoValue"},
        "C": [1, {"Ref": "AWS::NoValue"}],
    }
    assert resolver(conditions).resolve(value) == {"A": "yes", "C": [1]}


def test_unknown_ref_names_its_target() -> None:
    with pytest.raises(UnresolvableError, match="Ref to 'Missing': no such resource"):
        resolver().resolve({"Ref": "Missing"})


def test_unknown_attribute_names_resource_and_attribute() -> None:
    with pytest.raises(UnresolvableError, match=r"Fn::GetAtt Queue\.QueueName"):
        resolver().resolve({"Fn::GetAtt": ["Queue", "QueueName"]})


def test_unsupported_intrinsic_is_named() -> None:
    with pytest.raises(UnresolvableError, match="Fn::ImportValue is not supported"):
        resolver().resolve({"Fn::ImportValue": "Shared"})


def test_undefined_condition_is_named() -> None:
    with pytest.raises(UnresolvableError, match="condition 'Nope' is not defined"):
        resolver().resolve({"Fn::If": ["Nope", 1, 2]})
