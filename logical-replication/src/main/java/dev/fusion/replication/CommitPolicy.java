package dev.fusion.replication;

import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * A synchronous commit's requirements.
 *
 * @param level       how many must acknowledge.
 * @param ackPoint    what their acknowledgement must cover.
 * @param timeout     how long the commit future waits at most.
 * @param subscribers the configured subscribers (node ids) the level counts.
 * @param quorum      acks that make a quorum; 0 for a majority of {@code subscribers}.
 */
public record CommitPolicy(CommitLevel level, AckPoint ackPoint, Duration timeout, Set<Integer> subscribers, int quorum)
{
    /** Checks the values. */
    public CommitPolicy
    {
        Objects.requireNonNull(level, "level");
        Objects.requireNonNull(ackPoint, "ackPoint");
        Objects.requireNonNull(timeout, "timeout");
        subscribers = Set.copyOf(subscribers);
        if (timeout.isNegative() || timeout.toHours() > 24)
        {
            throw new IllegalArgumentException("invalid timeout: " + timeout + " (accepted: 0..24 h)");
        }
        if (quorum < 0 || quorum > subscribers.size())
        {
            throw new IllegalArgumentException("invalid quorum: " + quorum + " (accepted: 0 for a majority, or 1.." +
                subscribers.size() + ")");
        }
    }

    /** @return the acks a quorum needs. */
    public int quorumSize()
    {
        return 0 != quorum ? quorum : subscribers.size() / 2 + 1;
    }

    /** @return the acks this level needs. */
    int target()
    {
        return switch (level)
        {
            case ASYNC -> 0;
            case ONE -> 1;
            case QUORUM -> quorumSize();
            case ALL -> subscribers.size();
        };
    }
}
