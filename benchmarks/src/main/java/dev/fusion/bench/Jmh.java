package dev.fusion.bench;

import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/** {@code ./fusion jmh [JMH options]}: the JMH suite, with the shared JVM flags prepended to every fork. */
final class Jmh
{
    private Jmh()
    {
    }

    static void run(final String[] args) throws Exception
    {
        final CommandLineOptions cli = new CommandLineOptions(args);
        new Runner(new OptionsBuilder().parent(cli).jvmArgsPrepend(JvmFlags.get().toArray(new String[0])).build())
            .run();
    }
}
