"""Where the worker stands in each partition it owns: one next offset per partition.

A partition is *assigned* (not yet sought), then *sought* to the offset stored in the
database, from where its records are processed in order; its next offset is always what the
database holds (it only moves after a commit). Offsets are saved as a compare-and-set
(:func:`infersight.storage.offsets.save_offsets`): the previous value is this next offset,
or None for a partition that has no stored row yet.

>>> positions = Positions()
>>> positions.assign([("infersight.events", 0)])
>>> positions.sought({}, [("infersight.events", 0)])
>>> positions.next_offset(("infersight.events", 0)), positions.transitions({("infersight.events", 0): 5})
(0, {('infersight.events', 0): (None, 5)})
>>> positions.advance({("infersight.events", 0): 5})
>>> positions.fence(("infersight.events", 0))
{('infersight.events', 0): (5, 5)}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence

from infersight.collector.worker.bus import Record, TopicPartition

log = logging.getLogger(__name__)

OffsetTransitions = dict[TopicPartition, tuple[int | None, int]]
"""``{tp: (previous stored offset or None, next offset)}`` as ``save_offsets`` takes it."""


class Positions:
    """The next offset of every owned partition, and the partitions still to be sought."""

    def __init__(self) -> None:
        self._next: dict[TopicPartition, int] = {}
        """Next offset to process per sought partition: always what the database holds."""
        self._unstored: set[TopicPartition] = set()
        """Sought partitions that have no stored offset row yet."""
        self.unsought: set[TopicPartition] = set()
        """Assigned partitions not yet sought to their stored offset."""
        self._gaps: dict[TopicPartition, tuple[int, int]] = {}

    def __contains__(self, tp: object) -> bool:
        return tp in self._next

    def owned(self, topic: str | None = None) -> list[TopicPartition]:
        """The sought partitions (of ``topic`` only, if given), sorted."""
        return sorted(tp for tp in self._next if topic is None or tp[0] == topic)

    def next_offset(self, tp: TopicPartition) -> int | None:
        """The next offset to process of ``tp``, or None if it is not sought."""
        return self._next.get(tp)

    def assign(self, tps: Iterable[TopicPartition]) -> None:
        self.unsought.update(tps)

    def revoke(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            self._forget(tp)
            self.unsought.discard(tp)

    def sought(self, stored: Mapping[TopicPartition, int], tps: Iterable[TopicPartition]) -> None:
        """``tps`` were sought to their ``stored`` offsets (0 for those without one)."""
        for tp in tps:
            offset = stored.get(tp)
            self._next[tp] = offset or 0
            if offset is None:
                self._unstored.add(tp)
            else:
                self._unstored.discard(tp)
            self.unsought.discard(tp)

    def lose(self, tp: TopicPartition) -> None:
        """Another worker committed ``tp``: seek it again before processing it."""
        self._forget(tp)
        self.unsought.add(tp)

    def rewind_all(self) -> set[TopicPartition]:
        """Every partition to be sought again; returns them all (to pause)."""
        self.unsought.update(self._next)
        self._next.clear()
        self._unstored.clear()
        return set(self.unsought)

    def ready(self) -> list[TopicPartition]:
        """Sought partitions (to seek back and resume after a database outage)."""
        return [tp for tp in self._next if tp not in self.unsought]

    def transitions(self, next_offsets: Mapping[TopicPartition, int]) -> OffsetTransitions:
        """The compare-and-set of moving to ``next_offsets``."""
        return {tp: (self._stored(tp), offset) for tp, offset in next_offsets.items()}

    def fence(self, tp: TopicPartition) -> OffsetTransitions:
        """Save ``tp``'s offset unchanged: proves, in a transaction, that we still own it."""
        offset = self._next[tp]
        return {tp: (self._stored(tp), offset)}

    def advance(self, next_offsets: Mapping[TopicPartition, int]) -> None:
        """``next_offsets`` were committed."""
        for tp, offset in next_offsets.items():
            self._next[tp] = offset
            self._unstored.discard(tp)

    def expected(
        self, records: Sequence[Record], seek: Callable[[TopicPartition, int], None]
    ) -> list[Record]:
        """Keep, in order, the records that continue each owned partition exactly where its
        committed position is.

        Earlier offsets were already processed. A later offset (a gap) usually means records
        fetched before a seek arrived after it: the partition is sought back to its position
        and the batch's records of it are dropped. If the same gap shows up again right
        after that seek, the offsets really are missing (e.g. compacted) and it is accepted.
        """
        kept: list[Record] = []
        following: dict[TopicPartition, int] = {}
        rewound: set[TopicPartition] = set()
        for record in records:
            tp = record.topic_partition
            position = self._next.get(tp)
            if position is None or tp in rewound:
                continue
            expected = following.get(tp, position)
            if record.offset < expected:
                continue
            if record.offset > expected:
                if self._gaps.get(tp) != (expected, record.offset):
                    log.info("offset gap on %s/%s: expected %d, got %d; seeking back",
                             tp[0], tp[1], expected, record.offset)
                    self._gaps[tp] = (expected, record.offset)
                    seek(tp, position)
                    rewound.add(tp)
                    kept = [r for r in kept if r.topic_partition != tp]
                    continue
                log.warning("offsets %d..%d of %s/%s are missing on the bus; skipping them",
                            expected, record.offset - 1, tp[0], tp[1])
            self._gaps.pop(tp, None)
            kept.append(record)
            following[tp] = record.offset + 1
        return kept

    def _stored(self, tp: TopicPartition) -> int | None:
        return None if tp in self._unstored or tp not in self._next else self._next[tp]

    def _forget(self, tp: TopicPartition) -> None:
        self._next.pop(tp, None)
        self._unstored.discard(tp)
