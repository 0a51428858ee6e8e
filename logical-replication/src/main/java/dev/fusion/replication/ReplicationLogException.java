package dev.fusion.replication;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A {@link ReplicationLog} could not append, or refuses to: the message says what failed, whether anything was
 * written, and what makes the log usable again.
 */
public final class ReplicationLogException extends UncheckedIOException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed and what the log did about it.
     * @param cause   the I/O error.
     */
    public ReplicationLogException(final String message, final IOException cause)
    {
        super(message, cause);
    }
}
