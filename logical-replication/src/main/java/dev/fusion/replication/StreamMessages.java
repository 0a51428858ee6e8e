package dev.fusion.replication;

/**
 * Replication stream messages on cluster-core.
 * <pre>
 * SUBSCRIBE    (type 48, HIGH, subscriber to publisher): i64 applied watermark, i32 window, i64 epoch — send me
 *              everything after the watermark, at most window transactions beyond what I acknowledged; the
 *              newest publisher epoch I have seen (a publisher of an older one is fenced)
 * TXN          (type 49, NORMAL, publisher to subscriber): i64 epoch, i64 previous position, encoded transaction
 * NOT_RETAINED (type 50, HIGH, publisher to subscriber): i64 retained-after, i64 publisher epoch — a full sync is needed
 * ACK          (type 51, HIGH, subscriber to publisher): i64 received position, i64 applied watermark,
 *              i64 transactions taken since the subscription (informational: the publisher's credit counts the
 *              positions it sent above the received position, so a stale acknowledgement frees nothing)
 * FULL_SYNC    (type 52, HIGH, subscriber to publisher): (empty) — send me a snapshot
 * CHUNK        (type 53, NORMAL, publisher to subscriber): i64 snapshot id, i32 index, i32 count, i64 position,
 *              i32 CRC32 of the data, data
 * RESEND       (type 54, HIGH, subscriber to publisher): i64 snapshot id, i32 index — a chunk failed its CRC
 * TXN_PART     (type 55, NORMAL, publisher to subscriber): i32 index, i32 count, bytes — a transaction larger
 *              than one message, split; the parts joined are a TXN message's payload
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
    static final int FULL_SYNC = 52;
    static final int CHUNK = 53;
    static final int RESEND = 54;
    static final int TXN_PART = 55;
    static final int PART_HEADER = 8;
    static final int CHUNK_HEADER = 28;
    static final int CHUNK_BYTES = 32 * 1024;

    private StreamMessages()
    {
    }
}
