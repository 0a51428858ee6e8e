package dev.fusion.cluster;

/**
 * A static member of the cluster: its id and the UDP endpoints its transport listens on: {@code port} for the
 * control stream and {@code port + 1} for the bulk stream, so that control datagrams never wait behind bulk
 * ones in a socket's receive buffer.
 *
 * @param id   the node id, 1..65535.
 * @param host the host name or address.
 * @param port the control stream's UDP port, 1..65534; the bulk stream uses the next one.
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

    /** @return {@code host:port} of the control stream. */
    public String endpoint()
    {
        return host + ":" + port;
    }

    /** @return {@code host:port+1} of the bulk stream. */
    public String bulkEndpoint()
    {
        return host + ":" + (port + 1);
    }
}
