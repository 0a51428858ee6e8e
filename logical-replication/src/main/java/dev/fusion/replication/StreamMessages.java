package dev.fusion.replication;

/**
 * Replication stream messages on cluster-core.
 * <pre>
 * SUBSCRIBE    (type 48, HIGH, subscriber to publisher): i64 applied watermark — send me everything after it
 * TXN          (type 49, NORMAL, publisher to subscriber): i64 previous position, encoded transaction
 * NOT_RETAINED (type 50, HIGH, publisher to subscriber): i64 retained-after — a full sync is needed
 * ACK          (type 51, LOW, subscriber to publisher): i64 received position, i64 applied watermark
 * </pre>
 * The previous position in TXN lets the subscriber detect a gap (a dropped message) and resubscribe from what
 * it has, instead of applying past a hole.
 */
final class StreamMessages
{
    static final int SUBSCRIBE = 48;
    static final int TXN = 49;
    static final int NOT_RETAINED = 50;
    static final int ACK = 51;

    private StreamMessages()
    {
    }
}
