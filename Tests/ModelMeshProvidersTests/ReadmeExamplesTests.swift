import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

/// The README's code, kept compiling (and, where it needs no network, running).
@Suite struct ReadmeExamplesTests {
    /// The library quick start; compiled, not run (it talks to real providers).
    func libraryQuickStart() async throws {
        let mesh = try Mesh(configurationFile: "modelmesh.yaml", providers: .builtIn)
        _ = try Mesh.autodetected()

        let reply = try await mesh.chat.completions.create(
            ChatCompletionRequest(model: "chat-completion", messages: [.user("Say hello")]))
        print(reply.text)

        for try await chunk in try await mesh.chat.completions.stream(
            ChatCompletionRequest(model: "chat-completion", messages: [.user("Count to five")]))
        {
            print(chunk.choices.first?.delta.content ?? "", terminator: "")
        }

        print(mesh.describe().pools.map(\.members))
        print(try mesh.explain(ChatCompletionRequest(model: "chat-completion", messages: [.user("hi")])).text)

        for await event in mesh.events.events {
            print(event.eventType.rawValue, event.modelID ?? "", event.metadata)
        }
    }

    @Test func autodetectionWithNothingToDetectIsAClearError() {
        #expect {
            _ = try Mesh.autodetected(environment: [:])
        } throws: { error in
            (error as? ModelMeshError)?.hint?.contains("OPENAI_API_KEY") == true
        }
    }

    @Test func testingYourOwnCode() async throws {
        let flaky = MockProvider(fallback: .fail(.serverError, status: 503))   // every call fails
        let steady = MockProvider(fallback: .reply("hello from the backup"))
        var registry = ProviderRegistry()
        registry.register(provider: "flaky", instance: flaky)
        registry.register(provider: "steady", instance: steady)

        var config = MeshConfiguration()
        config.providers = [ProviderConfiguration(id: "flaky"), ProviderConfiguration(id: "steady")]
        config.models = [
            ModelConfiguration(id: "flaky.model", provider: "flaky", capabilities: ["generation.text-generation.chat-completion"]),
            ModelConfiguration(id: "steady.model", provider: "steady", capabilities: ["generation.text-generation.chat-completion"]),
        ]
        config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion")]

        let clock = TestClock()
        let mesh = try Mesh(configuration: config, providers: registry, clock: clock)
        let answer = try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
        #expect(answer.modelID == "steady.model")
        #expect(answer.value.text == "hello from the backup")
        #expect(clock.sleeps.count == 2)
    }
}
