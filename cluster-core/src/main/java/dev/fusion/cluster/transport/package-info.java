/**
 * The transport's internals: frame codec, batching, compression and the agent that drives the Aeron
 * publications and subscriptions. Public only so that benchmarks and sibling modules' tests can reach the
 * codec; not a stable API. Applications use {@link dev.fusion.cluster.ClusterNode}.
 */
package dev.fusion.cluster.transport;
