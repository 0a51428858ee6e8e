package dev.fusion.cluster;

/** Why the transport dropped a frame or a message. Every drop is counted by cause and logged, rate-limited. */
public enum DropCause
{
    /** Shorter than a frame header, or shorter than the length its header declares. */
    TRUNCATED,
    /** A header field or the message layout is inconsistent, or the payload does not decompress. */
    MALFORMED,
    /** Declares more bytes than this node accepts. */
    OVERSIZE,
    /** A frame version this node does not read. */
    UNKNOWN_VERSION,
    /** A message type with no registered handler. */
    UNKNOWN_TYPE,
    /** From a node id that is not a configured member (or from this node's own id). */
    UNKNOWN_NODE,
    /** From an incarnation of a node that was declared dead: fenced. */
    FENCED,
    /** The registered handler threw. */
    HANDLER_ERROR,
    /** Outbound messages discarded because their peer was declared dead. */
    PEER_DEAD,
    /** Dropped on purpose by an installed {@link ReceiveFilter} (fault injection). */
    INJECTED,
    /**
     * Outbound messages queued while this node held no lease, by an incarnation the quorum then declared dead:
     * discarded when the node rejoins as a new incarnation, which must not send what the old one decided.
     */
    SELF_FENCED
}
