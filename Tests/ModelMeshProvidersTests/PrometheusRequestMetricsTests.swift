import Foundation
import ModelMesh
import ModelMeshProviders
import Testing

/// The request-log side of `modelmesh.prometheus.v1`: every figure of an entry lands on the
/// series of its pool, model, status and attempts, whichever entries came before.
@Suite("Prometheus request metrics")
struct PrometheusRequestMetricsTests {
    @Test("Requests, tokens, cost and attempts are counted per pool, model, status and outcome")
    func requestLogSeries() throws {
        let metrics = PrometheusConnector()
        func entry(_ pool: String, _ model: String, status: Int, tokens: (Int, Int), cost: Double?, outcomes: [String?])
            -> RequestLogEntry
        {
            RequestLogEntry(
                requestID: "r", timestamp: Date(), poolID: pool, modelID: model, providerID: "p-" + model,
                status: status, latencyMs: 12, tokensIn: tokens.0, tokensOut: tokens.1, cost: cost,
                attempts: outcomes.map {
                    AttemptRecord(modelID: model, providerID: "p-" + model, errorClass: $0, status: nil, latencyMs: 1)
                })
        }
        try metrics.log(entry("chat", "a", status: 200, tokens: (10, 5), cost: 0.5, outcomes: [nil]))
        try metrics.log(entry("chat", "a", status: 200, tokens: (1, 2), cost: 0.25, outcomes: ["rate_limited", nil]))
        try metrics.log(entry("chat", "a", status: 502, tokens: (0, 0), cost: nil, outcomes: ["server_error"]))
        try metrics.log(entry("chat", "b", status: 200, tokens: (3, 4), cost: 1, outcomes: [nil]))
        let text = metrics.exposition()
        for line in [
            #"modelmesh_requests_total{pool="chat",model="a",status="200"} 2"#,
            #"modelmesh_requests_total{pool="chat",model="a",status="502"} 1"#,
            #"modelmesh_requests_total{pool="chat",model="b",status="200"} 1"#,
            #"modelmesh_tokens_total{pool="chat",model="a",direction="in"} 11"#,
            #"modelmesh_tokens_total{pool="chat",model="a",direction="out"} 7"#,
            #"modelmesh_tokens_total{pool="chat",model="b",direction="out"} 4"#,
            #"modelmesh_cost_usd_total{pool="chat",model="a"} 0.75"#,
            #"modelmesh_upstream_attempts_total{model="a",provider="p-a",outcome="success"} 2"#,
            #"modelmesh_upstream_attempts_total{model="a",provider="p-a",outcome="rate_limited"} 1"#,
            #"modelmesh_upstream_attempts_total{model="a",provider="p-a",outcome="server_error"} 1"#,
        ] {
            #expect(text.contains(line), "missing \(line)")
        }
    }
}
