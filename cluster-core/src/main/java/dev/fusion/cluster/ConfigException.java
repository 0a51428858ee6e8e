package dev.fusion.cluster;

/** A configuration value is missing or out of range; the message names the field and what it accepts. */
public final class ConfigException extends IllegalArgumentException
{
    private final String field;

    /**
     * @param field    the configuration key.
     * @param value    the value given, as text.
     * @param accepted the accepted range or form.
     */
    public ConfigException(final String field, final String value, final String accepted)
    {
        super("invalid " + field + ": " + value + " (accepted: " + accepted + ")");
        this.field = field;
    }

    /**
     * @param field   the configuration key.
     * @param message what is wrong.
     */
    public ConfigException(final String field, final String message)
    {
        super(field + ": " + message);
        this.field = field;
    }

    /** @return the configuration key at fault. */
    public String field()
    {
        return field;
    }
}
