package dev.fusion.replication.monitor;

/** Told when a subscriber's alert level or state changes; called on the monitor's sampling thread. */
public interface LagListener
{
    /**
     * @param from the previous level.
     * @param to   the new level.
     * @param lag  the measurement that changed it.
     */
    void onLevel(AlertLevel from, AlertLevel to, SubscriberLag lag);

    /**
     * @param from the previous state.
     * @param to   the new state (LAGGING and DISCONNECTED are the ones to act on).
     * @param lag  the measurement that changed it.
     */
    default void onState(final ReplicationState from, final ReplicationState to, final SubscriberLag lag)
    {
    }
}
