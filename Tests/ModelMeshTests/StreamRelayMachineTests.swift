import Foundation
import Testing

@testable import ModelMesh

/// The stream relay's state machine, without providers or tasks.
@Suite struct StreamRelayMachineTests {
    static let model = ModelConfiguration(id: "a", provider: "p")
    static let segment = StreamRelayMachine.Segment(
        model: model, reservation: BudgetLedger.Reservation(scopes: [], amount: 0, dayKey: "", monthKey: ""), usage: nil)

    func machine(includeUsage: Bool = false, midStream: MidStreamPolicy = .continue) -> StreamRelayMachine {
        StreamRelayMachine(first: Self.segment, streamID: "chatcmpl-1", includeUsage: includeUsage, midStream: midStream)
    }

    func chunk(_ text: String?, role: String? = nil, usage: Usage? = nil, id: String = "up-1") -> ChatCompletionChunk {
        ChatCompletionChunk(
            id: id, model: "m", choices: text.map { [.init(delta: .init(role: role, content: $0))] } ?? [], usage: usage)
    }

    @Test func chunksCarryOneIdAndTheDeliveredTextAccumulates() {
        var m = machine()
        #expect(m.received(chunk("Once", role: "assistant"))?.id == "chatcmpl-1")
        #expect(m.received(chunk(" upon", id: "up-2"))?.id == "chatcmpl-1")
        #expect(m.deliveredText == "Once upon")
        #expect(m.state == .relaying)
    }

    @Test func aUsageChunkIsBookedAndShownOnlyWhenAskedFor() {
        var hidden = machine()
        #expect(hidden.received(chunk(nil, usage: Usage(promptTokens: 3, completionTokens: 4))) == nil)
        #expect(hidden.segments[0].usage?.completionTokens == 4)
        var shown = machine(includeUsage: true)
        #expect(shown.received(chunk(nil, usage: Usage(promptTokens: 3, completionTokens: 4))) != nil)
    }

    @Test func aFailureResumesWithTheDeliveredTextOnlyWhenPolicyAndModelsAllow() {
        var m = machine()
        _ = m.received(chunk("Once"))
        #expect(m.failed(canResume: true) == .resume(prefill: "Once"))
        #expect(m.state == .resuming)
        var noModel = machine()
        #expect(noModel.failed(canResume: false) == .fail)
        var failPolicy = machine(midStream: .fail)
        #expect(failPolicy.failed(canResume: true) == .fail)
    }

    @Test func aResumedSegmentDropsTheSecondRoleAndEmptyChunks() {
        var m = machine()
        _ = m.received(chunk("Once"))
        _ = m.failed(canResume: true)
        let first = m.resumed(
            on: Self.segment, first: [chunk("", role: "assistant"), chunk(" upon", role: "assistant")])
        #expect(first.count == 1)
        #expect(first[0].choices[0].delta.role == nil)
        #expect(m.segments.count == 2)
        #expect(m.state == .relaying)
    }

    @Test func theStreamSettlesExactlyOnce() {
        var m = machine()
        _ = m.received(chunk("partial"))
        let settlement = m.finish(success: false, error: "gone", status: 499)
        #expect(settlement?.status == 499)
        #expect(settlement?.deliveredText == "partial")
        #expect(m.finish(success: true, error: nil) == nil)
        #expect(m.received(chunk("late")) == nil)
        #expect(m.failed(canResume: true) == .fail)
    }
}
