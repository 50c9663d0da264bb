"""A job-store table in moto, as the ``JobStore`` construct defines it."""

from __future__ import annotations

from typing import Any

from lambda_jobs.contract import FAILURES_INDEX
from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client

TABLE = "jobs-store"


def make_table(server: MotoServer) -> Any:
    """The table as the ``JobStore`` construct defines it (key, sparse failures index)."""
    dynamodb = boto_client(server, "dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "failed_task", "AttributeType": "S"},
            {"AttributeName": "finished_at", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": FAILURES_INDEX,
                "KeySchema": [
                    {"AttributeName": "failed_task", "KeyType": "HASH"},
                    {"AttributeName": "finished_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return dynamodb
