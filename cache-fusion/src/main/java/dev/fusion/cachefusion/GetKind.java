package dev.fusion.cachefusion;

/** How a block get was served, in the terms of RAC's wait events. */
public enum GetKind
{
    /** Already held in a covering mode: no message. */
    LOCAL,
    /** Granted with no cache holding it (read from disk) or a conversion with the image in hand. */
    GRANT,
    /** Two messages: the master shipped the image itself, or the requester is the master and the holder shipped. */
    TWO_WAY,
    /** Three messages: requester to master, master to holder, holder ships the image to the requester. */
    THREE_WAY
}
