import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite("Requests with bad interpreted fields are refused before any upstream call")
struct RequestValidationTests {
    /// Routes `request` through a one-model mesh and returns the error and whether the
    /// upstream was called.
    func refusal(_ request: ChatCompletionRequest) async throws -> (ModelMeshError, calls: Int) {
        let mock = MockProvider()
        let fixture = try MeshFixture(models: [("vendor.alpha", mock)])
        let error = try await #require(throws: ModelMeshError.self) { try await fixture.mesh.route(request) }
        return (error, mock.callCount)
    }

    static func chat(_ messages: [ChatMessage] = [.user("hi")]) -> ChatCompletionRequest {
        ChatCompletionRequest(model: "chat", messages: messages)
    }

    static let badRequests: [(String, ChatCompletionRequest, String)] = {
        var zeroTokens = chat()
        zeroTokens.maxTokens = 0
        var negativeCompletion = chat()
        negativeCompletion.maxCompletionTokens = -5
        var hugeTokens = chat()
        hugeTokens.maxTokens = Int.max
        var zeroN = chat()
        zeroN.extra["n"] = 0
        var fractionalN = chat()
        fractionalN.extra["n"] = 1.5
        var hot = chat()
        hot.temperature = 2.5
        var cold = chat()
        cold.temperature = -0.1
        var notANumber = chat()
        notANumber.temperature = .nan
        var topP = chat()
        topP.topP = 1.01
        let robot = chat([.system("be brief"), .user("hi"), ChatMessage(role: "robot", content: .text("beep"))])
        let orphanTool = chat([.user("hi"), ChatMessage(role: "tool", content: .text("42"))])
        return [
            ("max_tokens 0", zeroTokens, "max_tokens"),
            ("max_completion_tokens -5", negativeCompletion, "max_completion_tokens"),
            ("max_tokens Int.max", hugeTokens, "max_tokens"),
            ("n 0", zeroN, "n"),
            ("n 1.5", fractionalN, "n"),
            ("temperature 2.5", hot, "temperature"),
            ("temperature -0.1", cold, "temperature"),
            ("temperature NaN", notANumber, "temperature"),
            ("top_p 1.01", topP, "top_p"),
            ("role robot", robot, "messages[2].role"),
            ("tool without tool_call_id", orphanTool, "messages[1].tool_call_id"),
        ]
    }()

    @Test("Each bad field is an invalidRequest naming the field, and nothing is sent", arguments: badRequests)
    func refused(_ name: String, _ request: ChatCompletionRequest, _ param: String) async throws {
        let issue = try #require(request.fieldIssue(), "\(name)")
        #expect(issue.param == param)
        let (error, calls) = try await refusal(request)
        #expect(error.code == .invalidRequest)
        #expect(error.status == 400)
        #expect(error.message == issue.message)
        #expect(error.message.contains("'\(param)'") || error.message.contains("'messages[1]'"))
        #expect(error.hint?.isEmpty == false)
        #expect(calls == 0)
    }

    @Test("Values at the edges of each range, legacy roles and answered tool calls are routed")
    func accepted() async throws {
        let mock = MockProvider()
        let fixture = try MeshFixture(models: [("vendor.alpha", mock)])
        var request = Self.chat([
            .system("s"), ChatMessage(role: "developer", content: .text("d")), .user("u"),
            ChatMessage(
                role: "assistant", content: nil,
                toolCalls: [ToolCall(id: "call_1", function: .init(name: "f", arguments: "{}"))]),
            ChatMessage(role: "tool", content: .text("42"), toolCallID: "call_1"),
            ChatMessage(role: "function", content: .text("42"), name: "f"),
        ])
        request.maxTokens = 1
        request.maxCompletionTokens = ChatCompletionRequest.maxTokensLimit
        request.temperature = 2
        request.topP = 0
        request.extra["n"] = 1
        #expect(request.fieldIssue() == nil)
        _ = try await fixture.mesh.route(request)
        #expect(mock.callCount == 1)
        #expect(mock.calls.first?.request?.extra["n"] == 1)
    }

    @Test("A token cap that is no whole number fails to decode with a message naming the field")
    func unrepresentableTokenCaps() throws {
        for (field, number) in [("max_tokens", "1e30"), ("max_completion_tokens", "2.5"), ("max_tokens", "-1e300")] {
            let body = #"{"model": "chat", "messages": [], "\#(field)": \#(number)}"#
            let error = try #require(throws: DecodingError.self) {
                try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(body.utf8))
            }
            guard case .dataCorrupted(let context) = error else {
                Issue.record("\(field): \(number) gave \(error)")
                continue
            }
            #expect(context.codingPath.map(\.stringValue) == [field])
            #expect(context.debugDescription.contains("whole number"))
        }
        let null = try JSONDecoder().decode(
            ChatCompletionRequest.self, from: Data(#"{"model": "m", "messages": [], "max_tokens": null}"#.utf8))
        #expect(null.maxTokens == nil)
    }
}
