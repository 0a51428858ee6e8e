package dev.fusion.replication;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Random but valid transactions over accounts (primary key, unique email), orders (foreign key to accounts)
 * and a log table without a primary key, with occasional DDL. {@code hotKeys} bounds the account ids, so a
 * small number means heavy key overlap.
 */
final class Workload
{
    private final Random random;
    private final int hotKeys;
    private final double pkLessShare;
    private final double ddlShare;
    private final Map<String, String> accounts = new HashMap<>();
    private final Map<String, String> orders = new HashMap<>();
    private final Map<String, Integer> ordersPerAccount = new HashMap<>();
    private long position;
    private int nextOrder;
    private int emailVersion;

    Workload(final long seed, final int hotKeys, final double pkLessShare, final double ddlShare)
    {
        this.random = new Random(seed);
        this.hotKeys = hotKeys;
        this.pkLessShare = pkLessShare;
        this.ddlShare = ddlShare;
    }

    List<Transaction> next(final int count)
    {
        final List<Transaction> txns = new ArrayList<>(count);
        for (int i = 0; i < count; i++)
        {
            txns.add(transaction());
        }
        return txns;
    }

    private Transaction transaction()
    {
        position += 1 + random.nextInt(3);
        final List<Change> changes = new ArrayList<>();
        final double roll = random.nextDouble();
        if (roll < ddlShare)
        {
            changes.add(new Change("accounts", null, null, null, ChangeOp.DDL, null, bytes(";v" + position)));
            accounts.replaceAll((k, v) -> v + ";v" + position);
        }
        else if (roll < ddlShare + pkLessShare)
        {
            changes.add(new Change("log", null, null, null, ChangeOp.INSERT, null, bytes("event-" + position)));
        }
        else
        {
            final int n = 1 + random.nextInt(3);
            for (int i = 0; i < n; i++)
            {
                changes.add(rowChange());
            }
        }
        return new Transaction(1, position, System.currentTimeMillis(), changes);
    }

    private Change rowChange()
    {
        final String id = "a" + random.nextInt(hotKeys);
        final String row = accounts.get(id);
        final int kind = random.nextInt(10);
        if (null == row)
        {
            final String email = "u" + random.nextInt(hotKeys) + "-" + (emailVersion++) + "@x";
            final String after = email + "," + random.nextInt(1000);
            accounts.put(id, after);
            return new Change("accounts", key("accounts", id), List.of(key("accounts.email", email)), null,
                ChangeOp.INSERT, null, bytes(after));
        }
        if (kind < 3)
        {
            final String orderId = "o" + (nextOrder++);
            final String after = id + "," + random.nextInt(100);
            orders.put(orderId, after);
            ordersPerAccount.merge(id, 1, Integer::sum);
            return new Change("orders", key("orders", orderId), null, List.of(key("accounts", id)), ChangeOp.INSERT,
                null, bytes(after));
        }
        if (kind < 4 && ordersPerAccount.getOrDefault(id, 0) == 0)
        {
            accounts.remove(id);
            final String email = row.split(",")[0];
            return new Change("accounts", key("accounts", id), List.of(key("accounts.email", email)), null,
                ChangeOp.DELETE, bytes(row), null);
        }
        if (kind < 5 && !orders.isEmpty())
        {
            final String orderId = orders.keySet().iterator().next();
            final String before = orders.remove(orderId);
            final String account = before.split(",")[0];
            ordersPerAccount.merge(account, -1, Integer::sum);
            return new Change("orders", key("orders", orderId), null, List.of(key("accounts", account)),
                ChangeOp.DELETE, bytes(before), null);
        }
        final String[] parts = row.split(",", 2);
        final boolean newEmail = random.nextInt(4) == 0;
        final String email = newEmail ? "u" + random.nextInt(hotKeys) + "-" + (emailVersion++) + "@x" : parts[0];
        final String after = email + "," + random.nextInt(1000) + (parts[1].contains(";") ?
            parts[1].substring(parts[1].indexOf(';')) : "");
        accounts.put(id, after);
        final List<KeyRef> uniques = newEmail ?
            List.of(key("accounts.email", parts[0]), key("accounts.email", email)) :
            List.of(key("accounts.email", email));
        return new Change("accounts", key("accounts", id), uniques, null, ChangeOp.UPDATE, bytes(row), bytes(after));
    }

    private static KeyRef key(final String table, final String value)
    {
        return new KeyRef(table, bytes(value));
    }

    private static byte[] bytes(final String s)
    {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
