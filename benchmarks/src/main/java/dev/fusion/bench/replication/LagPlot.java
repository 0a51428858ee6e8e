package dev.fusion.bench.replication;

import dev.fusion.bench.replication.ReplicationScenario.Sample;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Writes the lag and throughput of a replication run over time as a PNG (XChart). */
final class LagPlot
{
    private LagPlot()
    {
    }

    /**
     * @param samples one per sampling interval.
     * @param file    where to write the PNG (".png" is the format).
     * @param title   the chart's title.
     * @throws IOException when the file cannot be written.
     */
    static void write(final List<Sample> samples, final Path file, final String title) throws IOException
    {
        System.setProperty("java.awt.headless", "true");
        final double[] t = new double[samples.size()];
        final double[] rate = new double[samples.size()];
        final double[] published = new double[samples.size()];
        final double[] lag = new double[samples.size()];
        for (int i = 0; i < samples.size(); i++)
        {
            final Sample s = samples.get(i);
            t[i] = s.seconds();
            rate[i] = s.appliedPerS();
            published[i] = s.publishedPerS();
            lag[i] = s.timeLagMs();
        }
        final XYChart chart = new XYChartBuilder().width(1000).height(500).title(title)
            .xAxisTitle("seconds").yAxisTitle("transactions per second").build();
        chart.setYAxisGroupTitle(1, "time lag (ms)");
        chart.getStyler().setYAxisGroupPosition(1, org.knowm.xchart.style.Styler.YAxisPosition.Right);
        final XYSeries offered = chart.addSeries("published txn/s", t, published);
        offered.setMarker(SeriesMarkers.NONE);
        final XYSeries applied = chart.addSeries("applied txn/s", t, rate);
        applied.setMarker(SeriesMarkers.NONE);
        final XYSeries lagSeries = chart.addSeries("time lag ms (right axis)", t, lag);
        lagSeries.setMarker(SeriesMarkers.NONE);
        lagSeries.setYAxisGroup(1);
        Files.createDirectories(file.toAbsolutePath().getParent());
        BitmapEncoder.saveBitmap(chart, file.toString().replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
    }
}
