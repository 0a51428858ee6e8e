package dev.fusion.replication;

/** What a change does to a row; DDL changes a table's definition and is applied alone. */
public enum ChangeOp
{
    /** A new row. */
    INSERT,
    /** A row's new image replaces its old one. */
    UPDATE,
    /** A row goes. */
    DELETE,
    /** A change of schema: a barrier for the dependency graph. */
    DDL
}
