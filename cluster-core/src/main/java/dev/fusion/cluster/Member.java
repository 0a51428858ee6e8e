package dev.fusion.cluster;

/**
 * A static member of the cluster: its id and the UDP endpoint its transport listens on.
 *
 * @param id   the node id, 1..65535.
 * @param host the host name or address.
 * @param port the UDP port, 1..65535.
 */
public record Member(int id, String host, int port)
{
    /**
     * Parses {@code host:port}.
     *
     * @param id       the node id.
     * @param endpoint {@code host:port}.
     * @return the member.
     * @throws ConfigException when the endpoint is not {@code host:port} with a valid port.
     */
    public static Member parse(final int id, final String endpoint)
    {
        final String text = endpoint.trim();
        final int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1)
        {
            throw new ConfigException("members", "'" + endpoint + "' for node " + id, "host:port");
        }
        final int port;
        try
        {
            port = Integer.parseInt(text.substring(colon + 1));
        }
        catch (final NumberFormatException ex)
        {
            throw new ConfigException("members", "'" + endpoint + "' for node " + id, "host:port with a numeric port");
        }
        return new Member(id, text.substring(0, colon), port);
    }

    /** @return {@code host:port}. */
    public String endpoint()
    {
        return host + ":" + port;
    }
}
