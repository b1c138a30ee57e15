"""group_lag counts records exactly on the local broker, whose high watermarks under-count."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from skystream.local.lag import end_offsets, group_lag
from skystream.local.testing import EphemeralStack, produce
from skystream.streams.admin import TopicAdmin


def test_lag_is_exact_when_one_batch_holds_many_records(stack: EphemeralStack) -> None:
    TopicAdmin().create(["lagged"], partitions=1)
    produce(stack.bootstrap, "lagged", [str(i).encode() for i in range(300)])  # a few large batches
    assert end_offsets(stack.bootstrap, "lagged") == {0: 300}
    assert group_lag(stack.bootstrap, "never-committed", "lagged") == 300
    committer = Consumer(stack.client_config(**{"group.id": "halfway", "enable.auto.commit": False}))
    try:
        committer.commit(offsets=[TopicPartition("lagged", 0, 100)], asynchronous=False)
    finally:
        committer.close()
    assert group_lag(stack.bootstrap, "halfway", "lagged") == 200
