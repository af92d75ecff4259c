"""AWS SQS via boto3 (visibility timeout, ApproximateReceiveCount, ChangeMessageVisibility)."""

from __future__ import annotations

import json

from .base import Delivery


class SqsQueue:
    def __init__(self, client, queue_url: str, visibility_s: int = 60) -> None:
        self.sqs, self.url, self.visibility_s = client, queue_url, visibility_s

    def enqueue(self, job: dict, delay_s: float = 0, attempt: int = 1) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps({"job": job, "attempt": attempt}),
                              DelaySeconds=int(min(900, max(0, delay_s))))

    def receive(self, max_jobs: int = 1, wait_s: float = 0) -> list[Delivery]:
        r = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=min(10, max_jobs),
                                     WaitTimeSeconds=int(min(20, wait_s)), VisibilityTimeout=self.visibility_s,
                                     AttributeNames=["ApproximateReceiveCount"])
        out = []
        for m in r.get("Messages", []):
            data = json.loads(m["Body"])
            receives = int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            out.append(Delivery(data["job"], m["ReceiptHandle"], data.get("attempt", 1) + receives - 1))
        return out

    def ack(self, delivery: Delivery) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=delivery.receipt)

    def extend(self, delivery: Delivery) -> bool:
        try:
            self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=delivery.receipt,
                                               VisibilityTimeout=self.visibility_s)
            return True
        except Exception:  # noqa: BLE001 - the receipt expired or the message is gone
            return False

    def ping(self) -> None:
        self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])

    def retry(self, delivery: Delivery, delay_s: float, count_attempt: bool = True) -> None:
        self.enqueue(delivery.job, delay_s, delivery.attempt + (1 if count_attempt else 0))
        self.ack(delivery)

    def depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])
        return sum(int(v) for v in attrs.get("Attributes", {}).values())
