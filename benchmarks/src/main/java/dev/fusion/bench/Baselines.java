package dev.fusion.bench;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The floors Fusion's figures are divided by: a raw Aeron UDP ping-pong (no Fusion code on the path) and what
 * a user would write without Fusion, plain blocking NIO TCP on loopback.
 */
public final class Baselines
{
    private static final int PING_BYTES = 32;
    private static final int DEFAULT_MTU = 1408;

    private Baselines()
    {
    }

    /**
     * Round trips of 32-byte messages between two Aeron clients over UDP loopback, one in flight.
     *
     * @param measureNs how long.
     * @param pingPort  a free UDP port.
     * @param pongPort  another.
     * @return the round-trip histogram, ns.
     */
    public static Histogram rawAeronRtt(final long measureNs, final int pingPort, final int pongPort)
    {
        return rawAeronRtt(measureNs, pingPort, pongPort, PING_BYTES, DEFAULT_MTU);
    }

    /**
     * Round trips between two Aeron clients over UDP loopback, one in flight: a 32-byte ping answered by a pong of
     * {@code pongBytes}. With a block-sized pong this is what a block get costs with no Fusion code on the path: a
     * small request out, the block back.
     *
     * @param measureNs how long.
     * @param pingPort  a free UDP port.
     * @param pongPort  another.
     * @param pongBytes the answer's length (at least 32).
     * @param mtu       the channels' MTU.
     * @return the round-trip histogram, ns.
     */
    public static Histogram rawAeronRtt(
        final long measureNs, final int pingPort, final int pongPort, final int pongBytes, final int mtu)
    {
        final String dir = "/dev/shm/fusion-bench-raw-" + UUID.randomUUID();
        final Histogram rtt = new Histogram(3);
        final AtomicBoolean running = new AtomicBoolean(true);
        try (MediaDriver driver = MediaDriver.launch(new MediaDriver.Context().aeronDirectoryName(dir)
                .threadingMode(ThreadingMode.SHARED).dirDeleteOnStart(true).dirDeleteOnShutdown(true)
                .sharedIdleStrategy(new BackoffIdleStrategy(10, 20, 1000, 10_000)).termBufferSparseFile(true));
             Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir)))
        {
            final String pingChannel = "aeron:udp?endpoint=127.0.0.1:" + pingPort + "|term-length=256k|mtu=" + mtu;
            final String pongChannel = "aeron:udp?endpoint=127.0.0.1:" + pongPort + "|term-length=1m|mtu=" + mtu;
            final Publication pingPub = aeron.addExclusivePublication(pingChannel, 1);
            final Subscription pingSub = aeron.addSubscription(pingChannel, 1);
            final Publication pongPub = aeron.addExclusivePublication(pongChannel, 2);
            final Subscription pongSub = aeron.addSubscription(pongChannel, 2);
            while (!pingPub.isConnected() || !pongPub.isConnected())
            {
                Thread.yield();
            }
            final Thread echo = new Thread(() ->
            {
                final BackoffIdleStrategy idle = new BackoffIdleStrategy(10, 20, 1000, 10_000);
                final UnsafeBuffer pong = new UnsafeBuffer(new byte[Math.max(PING_BYTES, pongBytes)]);
                final FragmentAssembler handler = new FragmentAssembler((buffer, offset, length, header) ->
                {
                    pong.putBytes(0, buffer, offset, length);
                    while (pongPub.offer(pong, 0, pong.capacity()) < 0)
                    {
                        Thread.yield();
                    }
                });
                while (running.get())
                {
                    idle.idle(pingSub.poll(handler, 10));
                }
            }, "raw-aeron-echo");
            echo.start();
            final UnsafeBuffer message = new UnsafeBuffer(new byte[PING_BYTES]);
            final long[] received = new long[1];
            final FragmentAssembler onPong = new FragmentAssembler((b, o, l, h) -> received[0]++);
            final long end = System.nanoTime() + measureNs;
            long sent = 0;
            final BackoffIdleStrategy idle = new BackoffIdleStrategy(10, 20, 1000, 10_000);
            while (System.nanoTime() < end)
            {
                final long start = System.nanoTime();
                message.putLong(0, start);
                while (pingPub.offer(message, 0, PING_BYTES) < 0)
                {
                    Thread.yield();
                }
                sent++;
                idle.reset();
                while (received[0] < sent)
                {
                    idle.idle(pongSub.poll(onPong, 10));
                }
                rtt.recordValue(System.nanoTime() - start);
            }
            running.set(false);
            echo.join();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        return rtt;
    }

    /**
     * Round trips of 32-byte messages over a blocking NIO TCP connection on loopback (TCP_NODELAY).
     *
     * @param measureNs how long.
     * @return the round-trip histogram, ns.
     * @throws IOException on a socket error.
     * @throws InterruptedException when interrupted.
     */
    public static Histogram tcpRtt(final long measureNs) throws IOException, InterruptedException
    {
        final Histogram rtt = new Histogram(3);
        try (ServerSocketChannel server = ServerSocketChannel.open()
            .bind(new InetSocketAddress("127.0.0.1", 0)))
        {
            final Thread echo = new Thread(() ->
            {
                try (SocketChannel peer = server.accept())
                {
                    peer.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    final ByteBuffer buffer = ByteBuffer.allocateDirect(32);
                    while (readFully(peer, buffer))
                    {
                        buffer.flip();
                        while (buffer.hasRemaining())
                        {
                            peer.write(buffer);
                        }
                        buffer.clear();
                    }
                }
                catch (final IOException ignore)
                {
                    // client closed
                }
            }, "tcp-echo");
            echo.start();
            try (SocketChannel client = SocketChannel.open(server.getLocalAddress()))
            {
                client.setOption(StandardSocketOptions.TCP_NODELAY, true);
                final ByteBuffer buffer = ByteBuffer.allocateDirect(32);
                final long end = System.nanoTime() + measureNs;
                while (System.nanoTime() < end)
                {
                    final long start = System.nanoTime();
                    buffer.clear();
                    buffer.putLong(0, start);
                    while (buffer.hasRemaining())
                    {
                        client.write(buffer);
                    }
                    buffer.clear();
                    readFully(client, buffer);
                    rtt.recordValue(System.nanoTime() - start);
                }
            }
            echo.join();
        }
        return rtt;
    }

    /**
     * 128-byte messages written one write() each, as a user without a batching transport would, over
     * blocking NIO TCP on loopback; the receiver reads in 64 KiB chunks.
     *
     * @param warmupNs  warm-up time.
     * @param measureNs measured time.
     * @return messages per second received.
     * @throws IOException on a socket error.
     * @throws InterruptedException when interrupted.
     */
    public static double tcpSmallMessageRate(final long warmupNs, final long measureNs) throws IOException, InterruptedException
    {
        final AtomicLong bytes = new AtomicLong();
        try (ServerSocketChannel server = ServerSocketChannel.open()
            .bind(new InetSocketAddress("127.0.0.1", 0)))
        {
            final Thread reader = new Thread(() ->
            {
                try (SocketChannel peer = server.accept())
                {
                    final ByteBuffer buffer = ByteBuffer.allocateDirect(64 * 1024);
                    int n;
                    while ((n = peer.read(buffer)) >= 0)
                    {
                        bytes.addAndGet(n);
                        buffer.clear();
                    }
                }
                catch (final IOException ignore)
                {
                    // writer closed
                }
            }, "tcp-reader");
            reader.start();
            double rate;
            try (SocketChannel client = SocketChannel.open(server.getLocalAddress()))
            {
                client.setOption(StandardSocketOptions.TCP_NODELAY, true);
                final ByteBuffer message = ByteBuffer.allocateDirect(128);
                final long start = System.nanoTime();
                long measureStart = 0;
                long bytesAtStart = 0;
                boolean measuring = false;
                while (true)
                {
                    final long now = System.nanoTime();
                    if (!measuring && now - start >= warmupNs)
                    {
                        measuring = true;
                        measureStart = now;
                        bytesAtStart = bytes.get();
                    }
                    if (measuring && now - measureStart >= measureNs)
                    {
                        rate = (bytes.get() - bytesAtStart) / 128.0 / ((now - measureStart) / 1e9);
                        break;
                    }
                    message.clear();
                    while (message.hasRemaining())
                    {
                        client.write(message);
                    }
                }
            }
            reader.join();
            return rate;
        }
    }

    private static boolean readFully(final SocketChannel channel, final ByteBuffer buffer) throws IOException
    {
        while (buffer.hasRemaining())
        {
            if (channel.read(buffer) < 0)
            {
                return false;
            }
        }
        return true;
    }
}
