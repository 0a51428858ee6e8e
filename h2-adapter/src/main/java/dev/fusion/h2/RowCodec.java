package dev.fusion.h2;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.util.List;

/**
 * A row image as bytes: the column names, then each value with a type tag (null, long, string, decimal, boolean,
 * double). Enough for the column types the adapter supports; others are refused with a clear error.
 */
final class RowCodec
{
    private static final byte NULL = 0;
    private static final byte LONG = 1;
    private static final byte STRING = 2;
    private static final byte DECIMAL = 3;
    private static final byte BOOLEAN = 4;
    private static final byte DOUBLE = 5;

    private RowCodec()
    {
    }

    static byte[] encode(final List<String> columns, final Object[] row)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        try (DataOutputStream out = new DataOutputStream(bytes))
        {
            out.writeShort(columns.size());
            for (int i = 0; i < columns.size(); i++)
            {
                out.writeUTF(columns.get(i));
                write(out, row[i], columns.get(i));
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return bytes.toByteArray();
    }

    /** Values only (for keys): no column names. */
    static byte[] encodeValues(final Object[] values)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream(16);
        try (DataOutputStream out = new DataOutputStream(bytes))
        {
            for (final Object v : values)
            {
                write(out, v, "key");
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        return bytes.toByteArray();
    }

    private static void write(final DataOutputStream out, final Object v, final String column) throws IOException
    {
        if (null == v)
        {
            out.writeByte(NULL);
        }
        else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte)
        {
            out.writeByte(LONG);
            out.writeLong(((Number)v).longValue());
        }
        else if (v instanceof String s)
        {
            out.writeByte(STRING);
            out.writeUTF(s);
        }
        else if (v instanceof BigDecimal d)
        {
            out.writeByte(DECIMAL);
            out.writeUTF(d.toPlainString());
        }
        else if (v instanceof Boolean b)
        {
            out.writeByte(BOOLEAN);
            out.writeBoolean(b);
        }
        else if (v instanceof Double || v instanceof Float)
        {
            out.writeByte(DOUBLE);
            out.writeDouble(((Number)v).doubleValue());
        }
        else
        {
            throw new IllegalArgumentException("column " + column + ": values of type " + v.getClass().getName() +
                " are not supported by the H2 adapter (supported: integers, strings, decimals, booleans, doubles)");
        }
    }

    /** A decoded row: column names and values. */
    record Row(String[] columns, Object[] values)
    {
    }

    static Row decode(final byte[] bytes)
    {
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(bytes)))
        {
            final int n = in.readUnsignedShort();
            final String[] columns = new String[n];
            final Object[] values = new Object[n];
            for (int i = 0; i < n; i++)
            {
                columns[i] = in.readUTF();
                values[i] = switch (in.readByte())
                {
                    case NULL -> null;
                    case LONG -> in.readLong();
                    case STRING -> in.readUTF();
                    case DECIMAL -> new BigDecimal(in.readUTF());
                    case BOOLEAN -> in.readBoolean();
                    case DOUBLE -> in.readDouble();
                    default -> throw new IllegalArgumentException("bad value tag in a row image");
                };
            }
            return new Row(columns, values);
        }
        catch (final IOException ex)
        {
            throw new IllegalArgumentException("malformed row image: " + ex.getMessage(), ex);
        }
    }
}
