"""What a filter run did: counts per filter and per batch, shared by the matcher, the annotation
trigger, the reseed after a save, and the output strategies (``skystream.outputs``) that fill them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# CloudWatch metric names (docs/deploy.md, "Metrics"): CamelCase, what is counted then what happened to it.
OUTPUT_METRICS = {"matched": "MatchesFound", "produced": "RecordsProduced", "dropped_oversize": "RecordsDroppedOversize",
                  "dropped_quota": "RecordsDroppedQuota", "emailed": "MatchesStoredForEmail"}


@dataclass
class OutputCounts:
    """What matches became: one filter's, a batch's, or (summed) an annotation batch's."""

    matched: int = 0
    produced: int = 0
    dropped_oversize: int = 0
    dropped_quota: int = 0
    emailed: int = 0

    def add_counts(self, other: OutputCounts) -> None:
        for name in COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def metrics(self) -> dict[str, int]:
        """The counts under their metric names."""
        return {metric: getattr(self, name) for name, metric in OUTPUT_METRICS.items()}


COUNT_NAMES = tuple(f.name for f in fields(OutputCounts))


@dataclass
class FilterResult(OutputCounts):
    """What one filter did with one batch."""

    error: str | None = None
    skipped: str | None = None  # why it did not run this time (not its fault, not a failure)


@dataclass
class MatchReport(OutputCounts):
    objects: int = 0
    filters: int = 0
    failed_filters: int = 0
    skipped_filters: int = 0
    per_filter: dict[str, FilterResult] = field(default_factory=dict)

    def metrics(self) -> dict[str, int]:
        return {**super().metrics(), "FiltersFailed": self.failed_filters, "FiltersSkipped": self.skipped_filters}

    def add(self, filter_id: str, result: FilterResult) -> None:
        self.per_filter[filter_id] = result
        self.add_counts(result)
        self.failed_filters += result.error is not None
        self.skipped_filters += result.skipped is not None
