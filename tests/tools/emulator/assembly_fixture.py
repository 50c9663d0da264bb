"""A small hand-written cloud assembly: one stack, one staged image asset.

Its template uses the same resource shapes a synthesized Goat/Lamb backend has (queues with
redrive, a FIFO queue, an SSM client-config parameter, a schedule group, an image function, an
event-source mapping and an async invoke config), so provisioning can be checked in detail
without a CDK synth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ASSET_HASH = "a" * 64
STACK = "Handmade"


def template() -> dict[str, Any]:
    config = {
        "Fn::Join": [
            "",
            [
                '{"version":1,"backend":"goat","region":"',
                {"Ref": "AWS::Region"},
                '","queues":{"default":{"fifo":false,"lanes":[{"min_priority":-100,'
                '"max_priority":100,"target":"',
                {"Ref": "Work"},
                '","arn":"',
                {"Fn::GetAtt": ["Work", "Arn"]},
                '"}]}},"dead_letter_queue":{"url":"',
                {"Ref": "Dlq"},
                '","arn":"',
                {"Fn::GetAtt": ["Dlq", "Arn"]},
                '"},"scheduler":null}',
            ],
        ]
    }
    return {
        "Resources": {
            "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
            "Work": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "DelaySeconds": 2,
                    "VisibilityTimeout": 42,
                    "MessageRetentionPeriod": 3600,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                        "maxReceiveCount": 7,
                    },
                },
            },
            "Ordered": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"FifoQueue": True, "ContentBasedDeduplication": True},
            },
            "Group": {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": {"Name": "hm-group"}},
            "Config": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/hm/client-config", "Type": "String", "Value": config},
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "PackageType": "Image",
                    "Code": {
                        "ImageUri": {
                            "Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}"
                            f"/repo:{ASSET_HASH}"
                        }
                    },
                    "Timeout": 9,
                    "MemorySize": 256,
                    "ReservedConcurrentExecutions": 3,
                    "Environment": {"Variables": {"LAMBDA_JOBS_DLQ_URL": {"Ref": "Dlq"}}},
                },
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Work", "Arn"]},
                    "FunctionName": {"Ref": "Fn"},
                    "BatchSize": 4,
                    "MaximumBatchingWindowInSeconds": 1,
                    "ScalingConfig": {"MaximumConcurrency": 2},
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                },
            },
            "Async": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": 1,
                    "MaximumEventAgeInSeconds": 120,
                    "DestinationConfig": {
                        "OnFailure": {"Destination": {"Fn::GetAtt": ["Dlq", "Arn"]}}
                    },
                },
            },
        },
        "Outputs": {"ClientConfig": {"Value": config}},
    }


DOCKERFILE = """FROM public.ecr.aws/lambda/python:3.12
COPY project/ ${LAMBDA_TASK_ROOT}/
ARG LAMBDA_JOBS_TASKS
ENV LAMBDA_JOBS_TASKS=${LAMBDA_JOBS_TASKS} \\
    EXTRA=fixed
CMD ["lambda_jobs.handler.handle"]
"""


def write_assembly(root: Path, template_doc: dict[str, Any] | None = None) -> Path:
    """Write the assembly into ``root`` (created) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    asset = root / f"asset.{ASSET_HASH}"
    (asset / "project").mkdir(parents=True)
    (asset / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    (root / f"{STACK}.template.json").write_text(json.dumps(template_doc or template()))
    (root / f"{STACK}.assets.json").write_text(
        json.dumps(
            {
                "dockerImages": {
                    ASSET_HASH: {
                        "source": {
                            "directory": asset.name,
                            "dockerBuildArgs": {"LAMBDA_JOBS_TASKS": "app.tasks"},
                        },
                        "destinations": {"d": {"imageTag": ASSET_HASH}},
                    }
                }
            }
        )
    )
    manifest = {
        "artifacts": {
            f"{STACK}.assets": {
                "type": "cdk:asset-manifest",
                "properties": {"file": f"{STACK}.assets.json"},
            },
            STACK: {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": f"{STACK}.template.json"},
                "dependencies": [f"{STACK}.assets"],
            },
        }
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root
