package dev.fusion.replication;

import org.agrona.collections.LongArrayList;
import org.jgrapht.Graphs;
import org.jgrapht.graph.DefaultEdge;
import org.jgrapht.graph.DirectedAcyclicGraph;

import java.util.ArrayList;
import java.util.List;

/**
 * The in-flight window of transactions as a JGraphT {@link DirectedAcyclicGraph}: an edge runs from each
 * transaction to every later one that depends on it. A vertex with no incoming edge is ready to apply; when it
 * completes it leaves the graph and releases its successors. Edges only run from earlier to later commit
 * positions, so the graph stays acyclic. Single-threaded: owned by the apply coordinator.
 */
final class DependencyGraph
{
    private final DirectedAcyclicGraph<Long, DefaultEdge> dag = new DirectedAcyclicGraph<>(DefaultEdge.class);
    private final int capacity;

    DependencyGraph(final int capacity)
    {
        this.capacity = capacity;
    }

    boolean isFull()
    {
        return dag.vertexSet().size() >= capacity;
    }

    int size()
    {
        return dag.vertexSet().size();
    }

    /**
     * @param position     the transaction.
     * @param dependencies earlier positions it depends on (those no longer in flight are ignored).
     * @param barrier      true to depend on everything in flight.
     * @return true when it is ready at once.
     */
    boolean add(final long position, final LongArrayList dependencies, final boolean barrier)
    {
        final List<Long> predecessors = new ArrayList<>();
        if (barrier)
        {
            predecessors.addAll(dag.vertexSet());
        }
        else
        {
            for (int i = 0; i < dependencies.size(); i++)
            {
                final long d = dependencies.getLong(i);
                if (dag.containsVertex(d))
                {
                    predecessors.add(d);
                }
            }
        }
        dag.addVertex(position);
        for (final Long p : predecessors)
        {
            if (!dag.containsEdge(p, position))
            {
                dag.addEdge(p, position);
            }
        }
        return dag.inDegreeOf(position) == 0;
    }

    /**
     * @param position a completed transaction.
     * @param ready    filled with the successors it released.
     */
    void complete(final long position, final LongArrayList ready)
    {
        ready.clear();
        final List<Long> successors = Graphs.successorListOf(dag, position);
        dag.removeVertex(position);
        for (final Long s : successors)
        {
            if (dag.inDegreeOf(s) == 0)
            {
                ready.addLong(s);
            }
        }
    }
}
