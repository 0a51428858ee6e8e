package dev.fusion.replication;

import java.util.Set;

/**
 * How a synchronous commit ended and who acknowledged it.
 *
 * @param outcome  the outcome.
 * @param position the transaction's position.
 * @param acked    the subscribers whose acknowledgement covered it when the future completed.
 * @param waitedMs how long the commit waited.
 */
public record CommitResult(CommitOutcome outcome, long position, Set<Integer> acked, long waitedMs)
{
}
