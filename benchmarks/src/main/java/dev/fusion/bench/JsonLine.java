package dev.fusion.bench;

import java.util.Locale;

/** Builds the one JSON line a scenario ends with: flat keys, numbers, booleans and strings. */
public final class JsonLine
{
    private final StringBuilder sb = new StringBuilder("{");

    /**
     * @param bench the scenario name, the line's first key.
     */
    public JsonLine(final String bench)
    {
        put("bench", bench);
    }

    /**
     * @param key   a key.
     * @param value a string.
     * @return this.
     */
    public JsonLine put(final String key, final String value)
    {
        key(key).append('"').append(value.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
        return this;
    }

    /**
     * @param key   a key.
     * @param value a number; NaN and infinities become null.
     * @return this.
     */
    public JsonLine put(final String key, final double value)
    {
        if (Double.isNaN(value) || Double.isInfinite(value))
        {
            key(key).append("null");
        }
        else if (value == Math.rint(value) && Math.abs(value) < 1e15)
        {
            key(key).append((long)value);
        }
        else
        {
            key(key).append(String.format(Locale.ROOT, "%.4g", value));
        }
        return this;
    }

    /**
     * @param key   a key.
     * @param value a boolean.
     * @return this.
     */
    public JsonLine put(final String key, final boolean value)
    {
        key(key).append(value);
        return this;
    }

    private StringBuilder key(final String key)
    {
        if (sb.length() > 1)
        {
            sb.append(',');
        }
        return sb.append('"').append(key).append("\":");
    }

    @Override
    public String toString()
    {
        return sb + "}";
    }
}
