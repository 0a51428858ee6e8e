package dev.fusion.replication;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TransactionCodecTest
{
    private static Transaction roundTrip(final Transaction txn)
    {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(64);
        final int length = TransactionCodec.encode(txn, buffer, 3);
        return TransactionCodec.decode(buffer, 3, length);
    }

    @Test
    void everyKindOfChangeRoundTrips()
    {
        for (final Transaction txn : new Workload(3, 16, 0.1, 0.05).next(500))
        {
            final Transaction back = roundTrip(txn);
            assertThat(back.position()).isEqualTo(txn.position());
            assertThat(back.origin()).isEqualTo(txn.origin());
            assertThat(back.commitTimeMs()).isEqualTo(txn.commitTimeMs());
            assertThat(back.changes()).hasSameSizeAs(txn.changes());
            for (int i = 0; i < txn.changes().size(); i++)
            {
                final Change a = txn.changes().get(i);
                final Change b = back.changes().get(i);
                assertThat(b.table()).isEqualTo(a.table());
                assertThat(b.op()).isEqualTo(a.op());
                assertThat(b.primaryKey()).isEqualTo(a.primaryKey());
                assertThat(b.uniqueKeys()).isEqualTo(a.uniqueKeys());
                assertThat(b.parentKeys()).isEqualTo(a.parentKeys());
                assertThat(b.before()).isEqualTo(a.before());
                assertThat(b.after()).isEqualTo(a.after());
            }
        }
    }

    @Test
    void lazilyDecodedChangesEqualTheEagerOnesAndAMalformedRecordIsRejectedUpFront()
    {
        for (final Transaction txn : new Workload(5, 16, 0.1, 0.05).next(200))
        {
            final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(64);
            final int length = TransactionCodec.encode(txn, buffer, 5);
            final Transaction eager = TransactionCodec.decode(buffer, 5, length);
            final Transaction lazy = TransactionCodec.decodeLazily(buffer, 5, length);
            assertThat(lazy.spilled()).isTrue();
            assertThat(lazy.position()).isEqualTo(eager.position());
            assertThat(lazy.changes()).hasSameSizeAs(eager.changes());
            final java.util.Iterator<Change> it = lazy.changes().iterator();
            for (int i = 0; i < eager.changes().size(); i++)
            {
                final Change a = eager.changes().get(i);
                final Change b = it.next();
                assertThat(b.table()).isEqualTo(a.table());
                assertThat(b.primaryKey()).isEqualTo(a.primaryKey());
                assertThat(b.after()).isEqualTo(a.after());
                assertThat(lazy.changes().get(i).before()).isEqualTo(a.before());
            }
            assertThat(it.hasNext()).isFalse();
            assertThatThrownBy(() -> TransactionCodec.decodeLazily(buffer, 5, length - 1))
                .isInstanceOf(MalformedTransactionException.class);
        }
    }

    @Test
    void malformedRecordsAreRejectedWithWhereAndWhy()
    {
        final Transaction txn = new Workload(4, 16, 0, 0).next(1).get(0);
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(64);
        final int length = TransactionCodec.encode(txn, buffer, 0);

        assertThatThrownBy(() -> TransactionCodec.decode(buffer, 0, length - 1))
            .isInstanceOf(MalformedTransactionException.class).hasMessageContaining("left");
        assertThatThrownBy(() -> TransactionCodec.decode(buffer, 0, 10)).hasMessageContaining("header");
        final UnsafeBuffer longer = new UnsafeBuffer(new byte[length + 4]);
        longer.putBytes(0, buffer, 0, length);
        assertThatThrownBy(() -> TransactionCodec.decode(longer, 0, length + 4)).hasMessageContaining("trailing");

        final UnsafeBuffer version = copy(buffer, length);
        version.putByte(0, (byte)7);
        assertThatThrownBy(() -> TransactionCodec.decode(version, 0, length)).hasMessageContaining("version 7");
        final UnsafeBuffer op = copy(buffer, length);
        op.putByte(28, (byte)99);
        assertThatThrownBy(() -> TransactionCodec.decode(op, 0, length)).hasMessageContaining("unknown op 99");
        final UnsafeBuffer count = copy(buffer, length);
        count.putInt(24, -3, java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThatThrownBy(() -> TransactionCodec.decode(count, 0, length)).hasMessageContaining("change count");
        final UnsafeBuffer position = copy(buffer, length);
        position.putLong(8, 0, java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThatThrownBy(() -> TransactionCodec.decode(position, 0, length)).hasMessageContaining("position");
    }

    @Test
    void randomBytesNeverDecodeSilentlyOrCrashOtherwise()
    {
        final Random random = new Random(9);
        for (int i = 0; i < 2000; i++)
        {
            final byte[] bytes = new byte[random.nextInt(200)];
            random.nextBytes(bytes);
            if (bytes.length > 0)
            {
                bytes[0] = 1;
            }
            try
            {
                TransactionCodec.decode(new UnsafeBuffer(bytes), 0, bytes.length);
            }
            catch (final MalformedTransactionException expected)
            {
                // the only way a bad record may fail
            }
        }
        assertThat(roundTrip(new Transaction(1, 5, 6, List.of())).changes()).isEmpty();
    }

    private static UnsafeBuffer copy(final ExpandableArrayBuffer buffer, final int length)
    {
        final UnsafeBuffer copy = new UnsafeBuffer(new byte[length]);
        copy.putBytes(0, buffer, 0, length);
        return copy;
    }
}
