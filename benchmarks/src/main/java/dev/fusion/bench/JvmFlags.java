package dev.fusion.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/** The JVM flags Agrona, Aeron and Chronicle need, as defined once in the parent pom and filtered into the jar. */
public final class JvmFlags
{
    private JvmFlags()
    {
    }

    /** @return the flags, one per element. */
    public static List<String> get()
    {
        try (InputStream in = JvmFlags.class.getResourceAsStream("/fusion-jvm.flags"))
        {
            if (null == in)
            {
                throw new IllegalStateException("fusion-jvm.flags missing from the classpath: rebuild with mvn install");
            }
            final String text = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            return Arrays.asList(text.split("\\s+"));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
