package dev.fusion.cluster;

import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/** The keys a config file may hold, each parsed into the builder field of the same name. */
final class ConfigKeys
{
    private static final Map<String, BiConsumer<ClusterConfig.Builder, Object>> KEYS = new TreeMap<>();

    static
    {
        KEYS.put("nodeId", (b, v) -> b.nodeId = asInt("nodeId", v));
        KEYS.put("members", ConfigKeys::members);
        KEYS.put("embeddedMediaDriver", (b, v) -> b.embeddedMediaDriver = asBoolean("embeddedMediaDriver", v));
        KEYS.put("aeronDirectory", (b, v) -> b.aeronDirectory = String.valueOf(v));
        KEYS.put("mtu", (b, v) -> b.mtu = asInt("mtu", v));
        KEYS.put("controlTermLength", (b, v) -> b.controlTermLength = asInt("controlTermLength", v));
        KEYS.put("bulkTermLength", (b, v) -> b.bulkTermLength = asInt("bulkTermLength", v));
        KEYS.put("controlQueueBytes", (b, v) -> b.controlQueueBytes = asInt("controlQueueBytes", v));
        KEYS.put("bulkQueueBytes", (b, v) -> b.bulkQueueBytes = asInt("bulkQueueBytes", v));
        KEYS.put("maxMessageLength", (b, v) -> b.maxMessageLength = asInt("maxMessageLength", v));
        KEYS.put("maxBatchBytes", (b, v) -> b.maxBatchBytes = asInt("maxBatchBytes", v));
        KEYS.put("batchMin", (b, v) -> b.batchMin = asInt("batchMin", v));
        KEYS.put("batchMax", (b, v) -> b.batchMax = asInt("batchMax", v));
        KEYS.put("highBudgetUs", (b, v) -> b.highBudgetUs = asLong("highBudgetUs", v));
        KEYS.put("normalBudgetUs", (b, v) -> b.normalBudgetUs = asLong("normalBudgetUs", v));
        KEYS.put("lowBudgetUs", (b, v) -> b.lowBudgetUs = asLong("lowBudgetUs", v));
        KEYS.put("linkCapacityBytesPerSecond",
            (b, v) -> b.linkCapacityBytesPerSecond = asLong("linkCapacityBytesPerSecond", v));
        KEYS.put("compressionThreshold", (b, v) -> b.compressionThreshold = asInt("compressionThreshold", v));
        KEYS.put("compressionMinSaving", (b, v) -> b.compressionMinSaving = asDouble("compressionMinSaving", v));
        KEYS.put("compressIdleLink", (b, v) -> b.compressIdleLink = asBoolean("compressIdleLink", v));
        KEYS.put("compressionAcceleration",
            (b, v) -> b.compressionAcceleration = asInt("compressionAcceleration", v));
        KEYS.put("heartbeatIntervalMs", (b, v) -> b.heartbeatIntervalMs = asLong("heartbeatIntervalMs", v));
        KEYS.put("suspectTimeoutMs", (b, v) -> b.suspectTimeoutMs = asLong("suspectTimeoutMs", v));
        KEYS.put("deadTimeoutMs", (b, v) -> b.deadTimeoutMs = asLong("deadTimeoutMs", v));
        KEYS.put("absentTimeoutMs", (b, v) -> b.absentTimeoutMs = asLong("absentTimeoutMs", v));
        KEYS.put("idleMaxParkUs", (b, v) -> b.idleMaxParkUs = asLong("idleMaxParkUs", v));
        KEYS.put("idleMode", (b, v) -> b.idleMode = asIdleMode(v));
        KEYS.put("driverTimeoutMs", (b, v) -> b.driverTimeoutMs = asLong("driverTimeoutMs", v));
        KEYS.put("driverOnAgentThread", (b, v) -> b.driverOnAgentThread = asBooleanOrAuto("driverOnAgentThread", v));
        KEYS.put("voters", ConfigKeys::voters);
        KEYS.put("leaseMs", (b, v) -> b.leaseMs = asLong("leaseMs", v));
        KEYS.put("leaseMarginMs", (b, v) -> b.leaseMarginMs = asLong("leaseMarginMs", v));
        KEYS.put("leaseRenewIntervalMs", (b, v) -> b.leaseRenewIntervalMs = asLong("leaseRenewIntervalMs", v));
        KEYS.put("favourAvailability", (b, v) -> b.favourAvailability = asBoolean("favourAvailability", v));
        KEYS.put("quorumDirectory", (b, v) -> b.quorumDirectory = String.valueOf(v));
        KEYS.put("socketBufferBytes", (b, v) -> b.socketBufferBytes = asInt("socketBufferBytes", v));
    }

    private ConfigKeys()
    {
    }

    static void apply(final ClusterConfig.Builder builder, final String key, final Object value)
    {
        final BiConsumer<ClusterConfig.Builder, Object> setter = KEYS.get(key);
        if (setter == null)
        {
            throw new ConfigException(key, "unknown key; known keys: " + KEYS.keySet());
        }
        if (value == null)
        {
            throw new ConfigException(key, "no value given");
        }
        setter.accept(builder, value);
    }

    private static void members(final ClusterConfig.Builder b, final Object value)
    {
        endpoints("members", b.members, value);
    }

    private static void voters(final ClusterConfig.Builder b, final Object value)
    {
        endpoints("voters", b.voters, value);
    }

    private static void endpoints(final String key, final Map<Integer, Member> into, final Object value)
    {
        if (value instanceof Map)
        {
            ((Map<?, ?>)value).forEach((id, endpoint) ->
            {
                final int nodeId = asInt(key + " (id)", id);
                into.put(nodeId, Member.parse(nodeId, String.valueOf(endpoint)));
            });
            return;
        }
        for (final String entry : String.valueOf(value).split(","))
        {
            final String text = entry.trim();
            if (text.isEmpty())
            {
                continue;
            }
            final int at = text.indexOf('@');
            if (at <= 0)
            {
                throw new ConfigException(key, "'" + text + "'", "id@host:port, comma separated");
            }
            final int nodeId = asInt(key + " (id)", text.substring(0, at));
            into.put(nodeId, Member.parse(nodeId, text.substring(at + 1)));
        }
    }

    private static int asInt(final String key, final Object value)
    {
        final long v = asLong(key, value);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)
        {
            throw new ConfigException(key, String.valueOf(value), "a 32-bit integer");
        }
        return (int)v;
    }

    private static long asLong(final String key, final Object value)
    {
        if (value instanceof Number)
        {
            return ((Number)value).longValue();
        }
        final String text = String.valueOf(value).trim().replace("_", "");
        try
        {
            return parseSize(text);
        }
        catch (final NumberFormatException ex)
        {
            throw new ConfigException(key, "'" + value + "'", "an integer, optionally with a k/m/g suffix");
        }
    }

    private static long parseSize(final String text)
    {
        final char last = Character.toLowerCase(text.isEmpty() ? ' ' : text.charAt(text.length() - 1));
        final int shift = last == 'k' ? 10 : last == 'm' ? 20 : last == 'g' ? 30 : 0;
        final String digits = shift == 0 ? text : text.substring(0, text.length() - 1);
        return Long.parseLong(digits.trim()) << shift;
    }

    private static double asDouble(final String key, final Object value)
    {
        if (value instanceof Number)
        {
            return ((Number)value).doubleValue();
        }
        try
        {
            return Double.parseDouble(String.valueOf(value).trim());
        }
        catch (final NumberFormatException ex)
        {
            throw new ConfigException(key, "'" + value + "'", "a decimal number");
        }
    }

    /** @return null for {@code auto}. */
    private static IdleMode asIdleMode(final Object value)
    {
        try
        {
            return value instanceof IdleMode ? (IdleMode)value : IdleMode.parse(String.valueOf(value));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new ConfigException("idleMode", "'" + value + "'", "backoff or yielding");
        }
    }

    private static Boolean asBooleanOrAuto(final String key, final Object value)
    {
        final String text = String.valueOf(value).trim();
        if ("auto".equalsIgnoreCase(text))
        {
            return null;
        }
        if (value instanceof Boolean || "true".equalsIgnoreCase(text) || "false".equalsIgnoreCase(text))
        {
            return asBoolean(key, value);
        }
        throw new ConfigException(key, "'" + value + "'", "true, false or auto");
    }

    private static boolean asBoolean(final String key, final Object value)
    {
        if (value instanceof Boolean)
        {
            return (Boolean)value;
        }
        final String text = String.valueOf(value).trim();
        if ("true".equalsIgnoreCase(text) || "false".equalsIgnoreCase(text))
        {
            return Boolean.parseBoolean(text);
        }
        throw new ConfigException(key, "'" + value + "'", "true or false");
    }
}
