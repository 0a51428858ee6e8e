package dev.fusion.grd;

/**
 * A hold used before its grant arrived (cache fusion: the image carried the grant), as reported at a
 * reconfiguration.
 *
 * @param mode      the mode used.
 * @param requestId the request the hold is used under (the latest sent for it, when a refused one was sent
 *                  again).
 */
public record UnconfirmedHold(LockMode mode, long requestId)
{
}
