"""The dead-letter topic: where one record that cannot be processed goes, so its partition goes on.

A Kafka trigger retries its whole batch when the handler raises, so a record that fails
every time (a poison record) would stop its partition for good. Each trigger (ingest,
matcher, annotation trigger) therefore sends such a record here, with why, and carries on
with the rest; only a failure of the infrastructure (a store or the broker unavailable)
raises, because retrying the batch is then the cure.

The dead-letter record keeps the original value and key byte for byte, with headers
``error`` (the reason, at most 1000 characters), ``stage`` (where it failed: ``decode``,
``features``, ``size``, ``storage`` in ingest; ``match`` in the matcher; ``history`` in the
history writer; ``annotation`` in the annotation trigger) and ``source`` (``topic-partition@offset``, which also says which
trigger's input it was). The caller flushes the producer with its batch, so a dead letter
the broker did not take fails the batch like any other record.

Which errors are the record's and which the infrastructure's is decided by type
(:func:`is_infrastructure`), never by reading messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError
from confluent_kafka import KafkaException

from skystream.alerts.enriched import BadEnrichedRecord, EnrichedRecord
from skystream.alerts.schema_files import RegistryUnavailable
from skystream.domain.records import KafkaRecord
from skystream.features.columns import row_problem
from skystream.ports import RecordProducer
from skystream.streams.producer import ProduceError

MAX_REASON_CHARS = 1000
HEADER_ERROR = "error"
HEADER_STAGE = "stage"
HEADER_SOURCE = "source"
log = Logger(child=True)

# A store, the broker, the schema registry or Secrets Manager could not be reached or refused the
# call: the batch is retried. OSError covers sockets and timeouts (ConnectionError, TimeoutError);
# GetParameterError is powertools' wrapper of a failed secret read (the Kafka SCRAM credentials).
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    BotoCoreError, ClientError, KafkaException, ProduceError, RegistryUnavailable, OSError, GetParameterError,
)


def is_infrastructure(exc: BaseException) -> bool:
    """True for a failure outside the record (retry the batch), False for one of the record itself."""
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


def describe(exc: BaseException) -> str:
    """``Type: message`` for a dead-letter reason, safe for any exception (even one whose str() fails)."""
    try:
        text = str(exc)
    except Exception:  # an exception's own __str__ must not fail the batch
        text = "(no message)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_enriched(records: Sequence[KafkaRecord], stage: str
                  ) -> tuple[list[tuple[KafkaRecord, EnrichedRecord]], list[tuple[KafkaRecord, str]]]:
    """``alerts-enriched`` records as enriched records, and those refused with why (for the dead-letter topic).

    A consumer of ``alerts-enriched`` defends itself rather than trust its input: a record that does not
    parse, or whose objects row SQLite or the stores cannot hold (an id beyond 64 bits, written by an older
    ingest), is refused alone so the rest of its batch goes on; a failure of the infrastructure raises.
    ``stage`` names the consumer in the reason ("match failed: ...")."""
    read: list[tuple[KafkaRecord, EnrichedRecord]] = []
    refused: list[tuple[KafkaRecord, str]] = []
    for record in records:
        try:
            enriched = EnrichedRecord.from_bytes(record.value)
            problem = row_problem(enriched.objects)
        except BadEnrichedRecord as exc:
            problem = exc.reason
        except Exception as exc:  # whatever else one record raises is that record's, not the batch's
            if is_infrastructure(exc):
                raise
            problem = f"{stage} failed: {describe(exc)}"
        if problem:
            refused.append((record, problem))
        else:
            read.append((record, enriched))
    return read, refused


class DeadLetters:
    """Sends records to one dead-letter topic; the caller flushes (:meth:`flush`, or ``producer``
    with the rest of its batch) before the batch counts as done."""

    def __init__(self, producer: RecordProducer, topic: str):
        self.producer = producer
        self.topic = topic

    def send(self, record: KafkaRecord, reason: str, stage: str) -> str:
        """Queue ``record`` with its reason; returns ``"position: reason"`` for the caller's report.

        A value too large for the producer is replaced by an empty one (the headers still say
        where the original is), so even an oversize record never blocks its partition.
        """
        headers = {HEADER_ERROR: reason[:MAX_REASON_CHARS], HEADER_STAGE: stage, HEADER_SOURCE: record.position}
        if not self.producer.produce(self.topic, record.value, key=record.key, headers=headers):
            headers[HEADER_ERROR] = (reason[: MAX_REASON_CHARS - 60]
                                     + " (original value too large to keep; dropped)")
            if not self.producer.produce(self.topic, b"", key=record.key, headers=headers):
                self.producer.produce(self.topic, b"", headers=headers)  # the key alone was too large
        return f"{record.position}: {reason}"

    def flush(self) -> None:
        """Wait until the broker has every dead letter; raises ``ProduceError`` (retry the batch) if not."""
        self.producer.flush()

    def send_all(self, refused: Sequence[tuple[KafkaRecord, str]], stage: str, what: str) -> list[str]:
        """Send each refused record with its reason, wait until the broker has them all (before the batch's
        own work: a dead letter the broker refuses fails the batch) and log one line naming ``what`` they
        were; returns the ``"position: reason"`` lines for the caller's report."""
        if not refused:
            return []
        reasons = [self.send(record, reason, stage) for record, reason in refused]
        self.flush()
        log.warning("%d %s sent to the dead-letter topic: %s", len(reasons), what, reasons[:5])
        return reasons
