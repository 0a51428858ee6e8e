package dev.fusion.replication.monitor;

import java.util.Locale;
import java.util.Map;

/** A small JSON writer for the monitor's endpoints (no dependency for a handful of flat objects). */
final class Json
{
    private final StringBuilder out = new StringBuilder(512);
    private boolean first = true;

    Json begin()
    {
        out.append('{');
        first = true;
        return this;
    }

    Json end()
    {
        out.append('}');
        first = false;
        return this;
    }

    Json beginArray(final String name)
    {
        key(name).append('[');
        first = true;
        return this;
    }

    Json endArray()
    {
        out.append(']');
        first = false;
        return this;
    }

    /** Starts an object inside an array. */
    Json element()
    {
        if (!first)
        {
            out.append(',');
        }
        out.append('{');
        first = true;
        return this;
    }

    Json beginObject(final String name)
    {
        key(name).append('{');
        first = true;
        return this;
    }

    Json field(final String name, final long value)
    {
        key(name).append(value);
        return this;
    }

    Json field(final String name, final double value)
    {
        key(name).append(Double.isFinite(value) ? String.format(Locale.ROOT, "%.3f", value) : "null");
        return this;
    }

    Json field(final String name, final boolean value)
    {
        key(name).append(value);
        return this;
    }

    Json field(final String name, final String value)
    {
        key(name);
        quote(value);
        return this;
    }

    Json field(final String name, final long[] values)
    {
        key(name).append('[');
        for (int i = 0; i < values.length; i++)
        {
            out.append(i == 0 ? "" : ",").append(values[i]);
        }
        out.append(']');
        return this;
    }

    Json field(final String name, final double[] values)
    {
        key(name).append('[');
        for (int i = 0; i < values.length; i++)
        {
            out.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.3f", values[i]));
        }
        out.append(']');
        return this;
    }

    Json field(final String name, final Map<String, Long> values)
    {
        key(name).append('{');
        boolean firstEntry = true;
        for (final Map.Entry<String, Long> e : values.entrySet())
        {
            out.append(firstEntry ? "" : ",");
            quote(e.getKey());
            out.append(':').append(e.getValue());
            firstEntry = false;
        }
        out.append('}');
        return this;
    }

    private StringBuilder key(final String name)
    {
        if (!first)
        {
            out.append(',');
        }
        first = false;
        quote(name);
        return out.append(':');
    }

    private void quote(final String value)
    {
        out.append('"');
        for (int i = 0; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            switch (c)
            {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
                    }
                    else
                    {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    @Override
    public String toString()
    {
        return out.toString();
    }
}
