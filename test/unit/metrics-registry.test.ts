import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";

describe("MetricsRegistry", () => {
  it("renders counters, gauges and cumulative histogram buckets in Prometheus text format", () => {
    const m = new MetricsRegistry();
    m.counter("requests_total", "Requests", { route: "/a", status: "200" });
    m.counter("requests_total", "Requests", { status: "200", route: "/a" }, 2);
    m.gauge("up", "Up", 1);
    m.observe("latency_seconds", "Latency", 0.003, { route: "/a" }, [0.001, 0.01]);
    m.observe("latency_seconds", "Latency", 0.5, { route: "/a" }, [0.001, 0.01]);
    const text = m.render();
    expect(text).toContain('# TYPE requests_total counter\nrequests_total{route="/a",status="200"} 3');
    expect(text).toContain("up 1");
    expect(text).toContain('latency_seconds_bucket{route="/a",le="0.001"} 0');
    expect(text).toContain('latency_seconds_bucket{route="/a",le="0.01"} 1');
    expect(text).toContain('latency_seconds_bucket{route="/a",le="+Inf"} 2');
    expect(text).toContain('latency_seconds_count{route="/a"} 2');
    expect(text).toContain('latency_seconds_sum{route="/a"} 0.503');
  });

  it("merges the snapshots of several processes into one scrape", () => {
    const a = new MetricsRegistry();
    const b = new MetricsRegistry();
    a.counter("requests_total", "Requests", { route: "/a" });
    b.counter("requests_total", "Requests", { route: "/a" }, 4);
    b.counter("requests_total", "Requests", { route: "/b" });
    a.observe("latency_seconds", "Latency", 0.002, {}, [0.01]);
    b.observe("latency_seconds", "Latency", 0.02, {}, [0.01]);
    const text = a.render([a.snapshot(), b.snapshot()]);
    expect(text).toContain('requests_total{route="/a"} 5');
    expect(text).toContain('requests_total{route="/b"} 1');
    expect(text).toContain('latency_seconds_bucket{le="0.01"} 1');
    expect(text).toContain("latency_seconds_count 2");
  });

  it("escapes label values so a hostile value cannot break the exposition format", () => {
    const m = new MetricsRegistry();
    m.counter("x_total", "X", { v: 'a"b\nc\\d' });
    expect(m.render()).toContain('x_total{v="a\\"b\\nc\\\\d"} 1');
  });

  it("counts into the same series through bound instruments as through counter() and observe()", () => {
    const plain = new MetricsRegistry();
    const bound = new MetricsRegistry();
    const labels = { status: "302", method: "GET", route: "/:slug" };
    const count = bound.boundCounter("requests_total", "Requests", labels);
    const time = bound.boundHistogram("latency_seconds", "Latency", labels);
    for (const value of [0.0001, 0.001, 0.0011, 0.3, 42]) {
      plain.counter("requests_total", "Requests", { ...labels });
      plain.observe("latency_seconds", "Latency", value, { ...labels });
      count();
      time(value);
      // Mixed use adds up in one series.
      bound.counter("requests_total", "Requests", { route: "/:slug", method: "GET", status: "302" });
    }
    expect(bound.render()).toBe(
      plain.render().replace(/requests_total\{([^}]*)\} 5/, "requests_total{$1} 10"),
    );
    expect(bound.snapshot()).toMatchObject({ latency_seconds: plain.snapshot().latency_seconds });
    expect(() => bound.boundHistogram("requests_total", "Requests")).toThrow(TypeError);
  });
});
