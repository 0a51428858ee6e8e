package dev.fusion.replication.monitor;

import java.util.Map;

/**
 * One subscriber's lag, as measured on the subscriber. Positions are commit positions (LSNs); "flushed" is the
 * applied watermark, which the engine persists atomically with the apply, so it equals "applied".
 *
 * @param subscriber          the subscriber's node id.
 * @param publisher           the publisher's node id.
 * @param state               how it stands with the publisher.
 * @param level               its alert level.
 * @param receivedPosition    the last transaction received, in order.
 * @param flushedPosition     the last one durably applied (the persisted watermark).
 * @param appliedPosition     the applied watermark.
 * @param lagTransactions     received and not yet applied.
 * @param lagBytes            their encoded size.
 * @param timeLagMs           now minus the source commit time of the oldest transaction not yet applied (0 when
 *                            none is pending): grows while the subscriber is stuck.
 * @param writeLagMs          source commit to receipt, of the last transaction received.
 * @param replayLagMs         source commit to local commit, of the last transaction applied.
 * @param applyRatePerS       transactions applied per second over the last sampling interval.
 * @param commitToApplyUs     p50, p99, p99.9 of source commit to local commit in the last interval, microseconds.
 * @param commitToApplyAllUs  the same since start.
 * @param queueDepth          transactions queued before the applier plus those in its dependency window.
 * @param oldestPendingAgeMs  how long the oldest pending transaction has waited since it was received.
 * @param workerApplied       transactions applied by each worker.
 * @param workerUtilisation   share of the last interval each worker spent applying, 0..1.
 * @param barriers            serialising barriers met, by cause.
 * @param lastHeardMs         when the last stream message arrived, epoch ms (0 before any).
 * @param sampledAtMs         when this was measured, epoch ms.
 */
public record SubscriberLag(
    int subscriber,
    int publisher,
    ReplicationState state,
    AlertLevel level,
    long receivedPosition,
    long flushedPosition,
    long appliedPosition,
    long lagTransactions,
    long lagBytes,
    long timeLagMs,
    long writeLagMs,
    long replayLagMs,
    double applyRatePerS,
    long[] commitToApplyUs,
    long[] commitToApplyAllUs,
    long queueDepth,
    long oldestPendingAgeMs,
    long[] workerApplied,
    double[] workerUtilisation,
    Map<String, Long> barriers,
    long lastHeardMs,
    long sampledAtMs)
{
}
