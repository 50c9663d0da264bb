"""The emulator's moto server applies DynamoDB conditional writes one at a time, as AWS does
(:mod:`lambda_jobs_tools.emulator.dynamodb_atomic`): concurrent writers that each read a version
and write version + 1 on condition that it is unchanged never both succeed."""

from __future__ import annotations

import threading

from lambda_jobs_tools.emulator.motoserver import MotoServer

from tests.conftest import boto_client

WRITERS = 12
TRIES = 80


def test_concurrent_conditional_writes_succeed_one_at_a_time(moto: MotoServer) -> None:
    dynamodb = boto_client(moto, "dynamodb")
    dynamodb.create_table(
        TableName="atomic",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    key = {"pk": {"S": "counter"}}
    dynamodb.put_item(TableName="atomic", Item={**key, "v": {"N": "0"}})
    wins: list[int] = []

    def write() -> None:
        client = boto_client(moto, "dynamodb")
        for _ in range(TRIES):
            item = client.get_item(TableName="atomic", Key=key, ConsistentRead=True)["Item"]
            version = int(item["v"]["N"])
            try:
                client.update_item(
                    TableName="atomic",
                    Key=key,
                    UpdateExpression="SET v = :next",
                    ConditionExpression="v = :seen",
                    ExpressionAttributeValues={
                        ":seen": {"N": str(version)},
                        ":next": {"N": str(version + 1)},
                    },
                )
            except client.exceptions.ConditionalCheckFailedException:
                continue
            wins.append(version)

    threads = [threading.Thread(target=write) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = int(dynamodb.get_item(TableName="atomic", Key=key)["Item"]["v"]["N"])
    assert sorted(wins) == list(range(final))  # each version was won exactly once
