package dev.fusion.replication;

/** Bytes that do not decode to a transaction; the message says where and why. */
public final class MalformedTransactionException extends IllegalArgumentException
{
    /**
     * @param offset where decoding failed, relative to the record's start.
     * @param reason what was wrong.
     */
    public MalformedTransactionException(final int offset, final String reason)
    {
        super("malformed transaction at byte " + offset + ": " + reason);
    }
}
