"""The collector worker: Kafka or in-process bus → window states → metric points.

Composed parts, each with one job (docs/pipeline.md): :mod:`.loop` (the run loop,
``Worker``), :mod:`.positions` (next offset per partition), :mod:`.writer` (one batch's
transaction), :mod:`.scheduler` (which windows to evaluate), :mod:`.evaluation` (evaluating
one window), :mod:`.bootstrap` (first-window references), :mod:`.housekeeping` (retention,
label expiry, raced labels, lag), :mod:`.pipeline` (decode and aggregate), :mod:`.state_cache`,
:mod:`.catalog`, :mod:`.watermarks`, :mod:`.concept`, :mod:`.statistics` (the only calls
into :mod:`infersight.drift`), the bus adapters (:mod:`.bus`, :mod:`.kafka_bus`,
:mod:`.local_consumer`), :mod:`.self_metrics`, :mod:`.config` and :mod:`.errors`.
"""
