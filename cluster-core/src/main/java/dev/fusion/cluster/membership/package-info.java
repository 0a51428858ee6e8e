/** Membership internals: the heartbeat failure detector behind {@link dev.fusion.cluster.MembershipView}. */
package dev.fusion.cluster.membership;
