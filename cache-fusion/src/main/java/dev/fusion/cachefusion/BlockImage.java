package dev.fusion.cachefusion;

/**
 * A block's bytes at a version.
 *
 * @param version the SCN of the last change in it.
 * @param dirty   whether the disk copy is older than this image.
 * @param bytes   the block; owned by the receiver once handed over (never modified by the giver afterwards).
 */
public record BlockImage(long version, boolean dirty, byte[] bytes)
{
}
